"""The iam service's commands, generated from the operation declarations by ``python -m crispml.cli.tablegen``.

Do not edit: change the operation and run the generator (see :mod:`crispml.cli.table`).
"""

from typing import Any

SERVICE: dict[str, Any] = {
    'name': 'iam',
    'help': 'IAM: principals and who you are.',
    'aliases': {},
    'operations': [
        {
            'name': 'GetCallerIdentity',
            'method': 'get_caller_identity',
            'command': 'get-caller-identity',
            'summary': 'Show who you are calling as: user id, account and ARN.',
            'doc': 'Show who you are calling as: user id, account and ARN.',
            'fields': [
            ],
        },
    ],
}
