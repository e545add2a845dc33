"""The serving service's commands, generated from the operation declarations by ``python -m crispml.cli.tablegen``.

Do not edit: change the operation and run the generator (see :mod:`crispml.cli.table`).
"""

from typing import Any

SERVICE: dict[str, Any] = {
    'name': 'serving',
    'help': 'SageMaker endpoints: configurations, variants, the runtime that answers InvokeEndpoint.',
    'aliases': {},
    'operations': [
        {
            'name': 'CreateEndpoint',
            'method': 'create_endpoint',
            'command': 'create-endpoint',
            'summary': 'Deploy an endpoint configuration as an endpoint; it answers once it is InService.',
            'doc': 'Deploy an endpoint configuration as an endpoint; it answers once it is InService.',
            'fields': [
                {'name': 'endpoint_name', 'option': '--endpoint-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': ''},
                {'name': 'endpoint_config_name', 'option': '--endpoint-config-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': ''},
                {'name': 'tags', 'option': '--tags', 'kind': 'json', 'type': 'str', 'required': False, 'help': ''},
            ],
        },
        {
            'name': 'CreateEndpointConfig',
            'method': 'create_endpoint_config',
            'command': 'create-endpoint-config',
            'summary': 'Create an endpoint configuration: production variants (model, instances, weight), an optional',
            'doc': 'Create an endpoint configuration: production variants (model, instances, weight), an optional\nshadow variant and data capture.',
            'fields': [
                {'name': 'endpoint_config_name', 'option': '--endpoint-config-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': ''},
                {'name': 'production_variants', 'option': '--production-variants', 'kind': 'json', 'type': 'str', 'required': True, 'help': ''},
                {'name': 'shadow_production_variants', 'option': '--shadow-production-variants', 'kind': 'json', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'data_capture_config', 'option': '--data-capture-config', 'kind': 'json', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'kms_key_id', 'option': '--kms-key-id', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'tags', 'option': '--tags', 'kind': 'json', 'type': 'str', 'required': False, 'help': ''},
            ],
        },
        {
            'name': 'DeleteEndpoint',
            'method': 'delete_endpoint',
            'command': 'delete-endpoint',
            'summary': 'Delete an endpoint: it stops answering and its instances stop.',
            'doc': 'Delete an endpoint: it stops answering and its instances stop.',
            'fields': [
                {'name': 'endpoint_name', 'option': '--endpoint-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': '', 'positional': True},
            ],
        },
        {
            'name': 'DeleteEndpointConfig',
            'method': 'delete_endpoint_config',
            'command': 'delete-endpoint-config',
            'summary': 'Delete an endpoint configuration (an endpoint running it keeps running, as on SageMaker).',
            'doc': 'Delete an endpoint configuration (an endpoint running it keeps running, as on SageMaker).',
            'fields': [
                {'name': 'endpoint_config_name', 'option': '--endpoint-config-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': '', 'positional': True},
            ],
        },
        {
            'name': 'DescribeEndpoint',
            'method': 'describe_endpoint',
            'command': 'describe-endpoint',
            'summary': "Show an endpoint: its status, each variant's weights and instances, its capture, where it answers.",
            'doc': "Show an endpoint: its status, each variant's weights and instances, its capture, where it answers.",
            'fields': [
                {'name': 'endpoint_name', 'option': '--endpoint-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': '', 'positional': True},
            ],
        },
        {
            'name': 'DescribeEndpointConfig',
            'method': 'describe_endpoint_config',
            'command': 'describe-endpoint-config',
            'summary': 'Show an endpoint configuration: its variants, shadow variant and data capture.',
            'doc': 'Show an endpoint configuration: its variants, shadow variant and data capture.',
            'fields': [
                {'name': 'endpoint_config_name', 'option': '--endpoint-config-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': '', 'positional': True},
            ],
        },
        {
            'name': 'DescribeRuntime',
            'method': 'describe_runtime',
            'command': 'describe-runtime',
            'summary': 'Whether the serving runtime runs, and where its front listens.',
            'doc': 'Whether the serving runtime runs, and where its front listens.',
            'fields': [
            ],
        },
        {
            'name': 'InvokeEndpoint',
            'method': 'invoke_endpoint',
            'command': 'invoke-endpoint',
            'summary': "Send a request to an endpoint's model and return its answer (SageMaker Runtime).",
            'doc': "Send a request to an endpoint's model and return its answer (SageMaker Runtime).",
            'fields': [
                {'name': 'endpoint_name', 'option': '--endpoint-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': '', 'positional': True},
                {'name': 'body', 'option': '--body', 'kind': 'file', 'type': 'str', 'required': True, 'help': 'The request body (at most 6 MB).'},
                {'name': 'content_type', 'option': '--content-type', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'accept', 'option': '--accept', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'custom_attributes', 'option': '--custom-attributes', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'target_variant', 'option': '--target-variant', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'inference_id', 'option': '--inference-id', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
            ],
        },
        {
            'name': 'ListEndpointConfigs',
            'method': 'list_endpoint_configs',
            'command': 'list-endpoint-configs',
            'summary': 'List endpoint configurations, newest first, filtered by name and creation time.',
            'doc': 'List endpoint configurations, newest first, filtered by name and creation time.',
            'fields': [
                {'name': 'name_contains', 'option': '--name-contains', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'creation_time_after', 'option': '--creation-time-after', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'creation_time_before', 'option': '--creation-time-before', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'sort_by', 'option': '--sort-by', 'kind': 'choice', 'type': 'str', 'required': False, 'help': '', 'choices': ['Name', 'CreationTime']},
                {'name': 'sort_order', 'option': '--sort-order', 'kind': 'choice', 'type': 'str', 'required': False, 'help': '', 'choices': ['Ascending', 'Descending']},
                {'name': 'max_results', 'option': '--max-results', 'kind': 'plain', 'type': 'int', 'required': False, 'help': ''},
                {'name': 'next_token', 'option': '--next-token', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
            ],
        },
        {
            'name': 'ListEndpoints',
            'method': 'list_endpoints',
            'command': 'list-endpoints',
            'summary': 'List endpoints, newest first, filtered by name, status and times.',
            'doc': 'List endpoints, newest first, filtered by name, status and times.',
            'fields': [
                {'name': 'name_contains', 'option': '--name-contains', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'creation_time_after', 'option': '--creation-time-after', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'creation_time_before', 'option': '--creation-time-before', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'sort_by', 'option': '--sort-by', 'kind': 'choice', 'type': 'str', 'required': False, 'help': '', 'choices': ['Name', 'CreationTime', 'Status']},
                {'name': 'sort_order', 'option': '--sort-order', 'kind': 'choice', 'type': 'str', 'required': False, 'help': '', 'choices': ['Ascending', 'Descending']},
                {'name': 'max_results', 'option': '--max-results', 'kind': 'plain', 'type': 'int', 'required': False, 'help': ''},
                {'name': 'next_token', 'option': '--next-token', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'status_equals', 'option': '--status-equals', 'kind': 'choice', 'type': 'str', 'required': False, 'help': '', 'choices': ['OutOfService', 'Creating', 'Updating', 'SystemUpdating', 'RollingBack', 'InService', 'Deleting', 'Failed', 'UpdateRollbackFailed']},
                {'name': 'last_modified_time_after', 'option': '--last-modified-time-after', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'last_modified_time_before', 'option': '--last-modified-time-before', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
            ],
        },
        {
            'name': 'StartRuntime',
            'method': 'start_runtime',
            'command': 'start-runtime',
            'summary': 'Start the serving runtime (the front on 127.0.0.1 and its supervisor) if it does not run; endpoint',
            'doc': 'Start the serving runtime (the front on 127.0.0.1 and its supervisor) if it does not run; endpoint\noperations start it on first need.',
            'fields': [
            ],
        },
        {
            'name': 'StopRuntime',
            'method': 'stop_runtime',
            'command': 'stop-runtime',
            'summary': 'Stop the serving runtime and every instance (endpoints stay recorded, and run again when it',
            'doc': 'Stop the serving runtime and every instance (endpoints stay recorded, and run again when it\nstarts).',
            'fields': [
            ],
        },
        {
            'name': 'UpdateEndpoint',
            'method': 'update_endpoint',
            'command': 'update-endpoint',
            'summary': 'Deploy another configuration on an endpoint with no downtime: the new instances start and pass',
            'doc': 'Deploy another configuration on an endpoint with no downtime: the new instances start and pass\n/ping, then take the traffic, then the old ones drain.',
            'fields': [
                {'name': 'endpoint_name', 'option': '--endpoint-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': ''},
                {'name': 'endpoint_config_name', 'option': '--endpoint-config-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': ''},
                {'name': 'retain_all_variant_properties', 'option': '--retain-all-variant-properties', 'kind': 'flag', 'type': 'bool', 'required': False, 'help': "Keep each variant's current weight and instance count (those of a variant of the same name in the new configuration)."},
            ],
        },
        {
            'name': 'UpdateEndpointWeightsAndCapacities',
            'method': 'update_endpoint_weights_and_capacities',
            'command': 'update-endpoint-weights-and-capacities',
            'summary': "Change variants' weights (at once) and instance counts (as instances start or drain).",
            'doc': "Change variants' weights (at once) and instance counts (as instances start or drain).",
            'fields': [
                {'name': 'endpoint_name', 'option': '--endpoint-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': ''},
                {'name': 'desired_weights_and_capacities', 'option': '--desired-weights-and-capacities', 'kind': 'json', 'type': 'str', 'required': True, 'help': ''},
            ],
        },
    ],
}
