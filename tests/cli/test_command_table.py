"""The CLI's command table (``crispml/cli/table_data/``) is what the declarations say.

The CLI builds its commands from the table so that it imports no service; this
regenerates the table from the services and compares, so an operation added or
changed without ``python -m crispml.cli.tablegen`` fails here.
"""

from __future__ import annotations

import difflib

from crispml.cli import table, tablegen


def test_the_committed_table_is_generated_from_the_declarations() -> None:
    expected = tablegen.render(tablegen.build())
    committed = tablegen.committed()
    assert sorted(committed) == sorted(expected), "run: python -m crispml.cli.tablegen"
    for name, text in expected.items():
        if committed[name] != text:
            diff = "".join(list(difflib.unified_diff(committed[name].splitlines(True), text.splitlines(True),
                                                     "committed", "declared"))[:40])
            raise AssertionError(f"crispml/cli/table_data/{name} is out of date; run: python -m "
                                 "crispml.cli.tablegen\n" + diff)


def test_the_table_holds_every_operation_with_its_fields() -> None:
    declared = {(cls.name, spec.method_name): spec for cls, specs in tablegen.declarations() for spec in specs}
    listed = {(service.name, op.method): op for service in table.services() for op in service.operations}
    assert listed.keys() == declared.keys()
    for key, op in listed.items():
        spec = declared[key]
        assert (op.action, op.command, op.doc) == (spec.action, spec.cli_name, spec.doc)
        assert [f.name for f in op.fields] == list(spec.request_model.model_fields)
        assert [f.required for f in op.fields] == [f.is_required() for f in spec.request_model.model_fields.values()]


def test_short_names_point_at_declared_operations() -> None:
    firehose = table.service("firehose")
    assert dict(firehose.aliases) == {"flush": "flush_delivery_stream"}
    assert firehose.operation("flush_delivery_stream").command == "flush-delivery-stream"
