"""The derived CLI, run in this process through ``crispml.cli.main.main``.

Each test drives one operation family the way a user types it and checks the
rendered table or the parsed ``--output json``. The help tests enumerate the
command tree itself, so a new operation is covered without editing them.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer

import crispml
from crispml.cli.main import app, main
from crispml.cli.tablegen import declarations
from tests.cli.conftest import Cli


def _commands() -> list[tuple[str, ...]]:
    """The path of every leaf command (``("lake", "put-object")``, ``("demo",)``, …)."""
    found: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        children = getattr(command, "commands", None)
        if children is None:
            found.append(path)
            return
        for name, child in sorted(children.items()):
            walk(child, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


def _groups() -> list[tuple[str, ...]]:
    return sorted({path[:-1] for path in _commands() if len(path) > 1})


COMMANDS = _commands()
#: Every declared operation, read from the services themselves (the CLI reads only its command table).
ACTIONS: dict[tuple[str, ...], str] = {(s.service, s.cli_name): s.action
                                       for _, specs in declarations() for s in specs}


def _one_line(text: str) -> str:
    """Help text with rich's box drawing and line wrapping flattened to single spaces."""
    return " ".join(text.replace("│", " ").split())


# --- the object flow -----------------------------------------------------------------------


@pytest.fixture
def body(tmp_path: Path) -> Path:
    path = tmp_path / "body.bin"
    path.write_bytes(os.urandom(70_000) + b"\x00end")
    return path


def test_object_flow_create_put_list_head_get_copy(cli: Cli, body: Path, tmp_path: Path) -> None:
    assert cli("lake", "create-bucket", "--bucket", "cli-objects").code == 0
    put = cli("lake", "put-object", "--bucket", "cli-objects", "--key", "raw/data.bin",
              "--body", str(body), "--metadata", '{"owner": "ml-team"}', "--output", "json").json()
    assert put["size"] == body.stat().st_size

    table = cli("lake", "list-objects-v2", "--bucket", "cli-objects")
    assert table.code == 0
    assert "raw/data.bin" in table.out and "STANDARD" in table.out and "key count: 1" in table.out
    listing = cli("lake", "list-objects-v2", "--bucket", "cli-objects", "--output", "json").json()
    assert listing["key_count"] == 1
    assert [(o["key"], o["size"], o["storage_class"]) for o in listing["contents"]] == [
        ("raw/data.bin", body.stat().st_size, "STANDARD")]
    assert listing["contents"][0]["etag"] == put["etag"]

    head = cli("lake", "head-object", "--bucket", "cli-objects", "--key", "raw/data.bin", "-o", "json").json()
    assert head["content_length"] == body.stat().st_size
    assert head["metadata"] == {"owner": "ml-team"}
    assert head["etag"] == put["etag"]

    out_file = tmp_path / "downloaded.bin"
    got = cli("lake", "get-object", "--bucket", "cli-objects", "--key", "raw/data.bin", str(out_file))
    assert got.code == 0, got.err
    assert out_file.read_bytes() == body.read_bytes()
    to_stdout = cli("lake", "get-object", "--bucket", "cli-objects", "--key", "raw/data.bin", "-")
    assert to_stdout.code == 0
    assert to_stdout.raw_out == body.read_bytes()  # the bytes only: no table after them

    ranged = tmp_path / "range.bin"
    assert cli("lake", "get-object", "--bucket", "cli-objects", "--key", "raw/data.bin",
               "--range", "bytes=10-19", str(ranged)).code == 0
    assert ranged.read_bytes() == body.read_bytes()[10:20]

    copied = cli("lake", "copy-object", "--bucket", "cli-objects", "--key", "archive/data.bin",
                 "--copy-source", "cli-objects/raw/data.bin", "--storage-class", "STANDARD_IA", "-o", "json")
    assert copied.code == 0, copied.err
    copy_head = cli("lake", "head-object", "--bucket", "cli-objects", "--key", "archive/data.bin",
                    "-o", "json").json()
    assert copy_head["storage_class"] == "STANDARD_IA"
    assert copy_head["content_length"] == body.stat().st_size
    assert copy_head["metadata"] == {"owner": "ml-team"}  # COPY is the default directive


def test_body_from_stdin_dash(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import io
    import sys

    cli("lake", "create-bucket", "--bucket", "cli-stdin")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"from stdin\n")))
    assert cli("lake", "put-object", "--bucket", "cli-stdin", "--key", "s.txt", "--body", "-").code == 0
    target = tmp_path / "s.txt"
    assert cli("lake", "get-object", "--bucket", "cli-stdin", "--key", "s.txt", str(target)).code == 0
    assert target.read_bytes() == b"from stdin\n"


def test_lifecycle_configuration_from_a_file_in_aws_shape(cli: Cli, tmp_path: Path) -> None:
    rules = {"Rules": [{
        "ID": "archive-logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
        "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}, {"Days": 90, "StorageClass": "GLACIER"}],
        "Expiration": {"Days": 365},
    }]}
    (tmp_path / "rules.json").write_text(json.dumps(rules), encoding="utf-8")
    cli("lake", "create-bucket", "--bucket", "cli-lifecycle")
    put = cli("lake", "put-bucket-lifecycle-configuration", "--bucket", "cli-lifecycle",
              "--lifecycle-configuration", f"file://{tmp_path / 'rules.json'}")
    assert put.code == 0, put.err
    got = cli("lake", "get-bucket-lifecycle-configuration", "--bucket", "cli-lifecycle", "-o", "json").json()
    assert got["rules"] == rules["Rules"]
    table = cli("lake", "get-bucket-lifecycle-configuration", "--bucket", "cli-lifecycle")
    assert "archive-logs" in table.out and "logs/" in table.out

    assert cli("lake", "delete-bucket-lifecycle", "--bucket", "cli-lifecycle").code == 0
    gone = cli("lake", "get-bucket-lifecycle-configuration", "--bucket", "cli-lifecycle")
    assert gone.code == 2 and "cli-lifecycle" in gone.err


def test_versioning_with_inline_json_and_deletes(cli: Cli, body: Path) -> None:
    cli("lake", "create-bucket", "--bucket", "cli-versions")
    assert cli("lake", "put-bucket-versioning", "--bucket", "cli-versions",
               "--versioning-configuration", '{"Status": "Enabled"}').code == 0
    assert cli("lake", "get-bucket-versioning", "--bucket", "cli-versions", "-o", "json").json() == {
        "status": "Enabled"}
    first = cli("lake", "put-object", "--bucket", "cli-versions", "--key", "m.bin", "--body", str(body),
                "-o", "json").json()
    second = cli("lake", "put-object", "--bucket", "cli-versions", "--key", "m.bin", "--body", str(body),
                 "-o", "json").json()
    assert first["version_id"] != second["version_id"]

    deleted = cli("lake", "delete-object", "--bucket", "cli-versions", "--key", "m.bin", "-o", "json").json()
    assert deleted["delete_marker"] is True
    assert cli("lake", "list-objects-v2", "--bucket", "cli-versions", "-o", "json").json()["key_count"] == 0
    versions = cli("lake", "list-object-versions", "--bucket", "cli-versions", "-o", "json").json()
    assert {v["version_id"] for v in versions["versions"]} == {first["version_id"], second["version_id"]}


def test_delete_objects_then_the_empty_bucket(cli: Cli, body: Path) -> None:
    cli("lake", "create-bucket", "--bucket", "cli-batch")
    for key in ("a.bin", "b.bin", "c.bin"):
        cli("lake", "put-object", "--bucket", "cli-batch", "--key", key, "--body", str(body))
    result = cli("lake", "delete-objects", "--bucket", "cli-batch",
                 "--delete", '{"Objects": [{"Key": "a.bin"}, {"Key": "b.bin"}]}', "-o", "json").json()
    assert sorted(d["key"] for d in result["deleted"]) == ["a.bin", "b.bin"]
    assert result["errors"] == []
    listing = cli("lake", "list-objects-v2", "--bucket", "cli-batch", "-o", "json").json()
    assert [o["key"] for o in listing["contents"]] == ["c.bin"]
    assert cli("lake", "delete-object", "--bucket", "cli-batch", "--key", "c.bin").code == 0
    assert cli("lake", "delete-bucket", "--bucket", "cli-batch").code == 0
    names = [b["name"] for b in cli("lake", "list-buckets", "-o", "json").json()["buckets"]]
    assert "cli-batch" not in names


# --- audit, monitoring, iam, db ------------------------------------------------------------


def test_audit_list_events_filters(cli: Cli, body: Path) -> None:
    cli("lake", "create-bucket", "--bucket", "cli-audit")
    since = datetime.now(UTC) - timedelta(seconds=1)
    cli("lake", "put-object", "--bucket", "cli-audit", "--key", "ok.bin", "--body", str(body))
    assert cli("lake", "put-object", "--bucket", "cli-audit", "--key", "bad/../x", "--body", str(body)).code == 2

    def events(*filters: str) -> list[dict[str, object]]:
        result: list[dict[str, object]] = cli("audit", "list-events", *filters, "-o", "json").json()["events"]
        return result

    failures = events("--action", "lake:PutObject", "--principal", "root",
                      "--start-time", since.isoformat(), "--outcome", "Failure")
    assert [(e["action"], e["outcome"], e["error_code"]) for e in failures] == [
        ("lake:PutObject", "Failure", "InvalidKey")]
    successes = events("--action", "lake:PutObject", "--outcome", "Success")
    assert [e["resource"] for e in successes] == ["crn:crispml:lake:::bucket/cli-audit/ok.bin"]
    assert all(e["source"] == "cli" for e in successes)
    assert events("--action", "lake:PutObject", "--principal", "someone-else") == []
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert events("--start-time", future) == []
    assert {e["action"] for e in events("--action", "lake:*")} >= {"lake:CreateBucket", "lake:PutObject"}

    table = cli("audit", "list-events", "--action", "lake:PutObject", "--outcome", "Failure")
    assert table.code == 0 and "InvalidKey" in table.out


def test_audit_rejects_a_bad_time(cli: Cli) -> None:
    result = cli("audit", "list-events", "--start-time", "yesterday-ish")
    assert result.code == 2
    assert result.err.startswith("error InvalidArgument: ") and "start_time" in result.err


def test_monitoring_get_call_metrics(cli: Cli) -> None:
    cli("lake", "create-bucket", "--bucket", "cli-metrics")
    cli("lake", "head-bucket", "--bucket", "cli-metrics")
    cli("lake", "head-bucket", "--bucket", "cli-no-such-bucket")
    metrics = {m["action"]: m for m in cli("monitoring", "get-call-metrics", "-o", "json").json()["metrics"]}
    assert metrics["lake:CreateBucket"]["calls"] == 1
    assert metrics["lake:CreateBucket"]["errors"] == 0
    assert metrics["lake:HeadBucket"]["calls"] == 2
    assert metrics["lake:HeadBucket"]["errors"] == 1
    only = cli("monitoring", "get-call-metrics", "--action", "lake:HeadBucket", "-o", "json").json()
    assert [m["action"] for m in only["metrics"]] == ["lake:HeadBucket"]
    assert "lake:CreateBucket" in cli("monitoring", "get-call-metrics").out


def test_iam_get_caller_identity(cli: Cli) -> None:
    identity = cli("iam", "get-caller-identity", "-o", "json").json()
    assert identity["arn"].endswith(":root")
    assert identity["account"] in identity["arn"]
    assert identity["arn"] in cli("iam", "get-caller-identity").out


def test_db_upgrade_then_current(cli: Cli, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRISPML_DB_URL", db_url)
    upgraded = cli("db", "upgrade", "-o", "json").json()
    current = cli("db", "current", "-o", "json").json()
    assert current["revision"] == current["head"] == upgraded["to_revision"]
    assert upgraded["from_revision"] in (None, current["head"])
    again = cli("db", "upgrade", "-o", "json").json()
    assert again["from_revision"] == again["to_revision"] == current["head"]
    assert "password" not in json.dumps(current)
    assert current["head"] in cli("db", "current").out


# --- version and help ----------------------------------------------------------------------


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.code == 0
    assert result.out.strip() == f"crispml {crispml.__version__}"


def test_every_operation_has_a_command() -> None:
    commands = {path for path in COMMANDS if len(path) == 2}
    missing = [action for (service, name), action in ACTIONS.items() if (service, name) not in commands]
    assert not missing


def test_root_help_lists_every_group(cli: Cli) -> None:
    result = cli("--help")
    assert result.code == 0
    for group in {path[0] for path in COMMANDS}:
        assert group in result.out


@pytest.mark.parametrize("group", _groups(), ids=lambda g: " ".join(g))
def test_group_help_lists_its_commands(cli: Cli, group: tuple[str, ...]) -> None:
    result = cli(*group, "--help")
    assert result.code == 0, result.err
    for path in COMMANDS:
        if path[:-1] == group:
            assert path[-1] in result.out


@pytest.mark.parametrize("group", _groups(), ids=lambda g: " ".join(g))
def test_a_bare_group_shows_its_help(cli: Cli, group: tuple[str, ...]) -> None:
    result = cli(*group)
    assert "Traceback" not in result.out + result.err and "internal error" not in result.err
    assert any(path[-1] in result.out + result.err for path in COMMANDS if path[:-1] == group)


def test_every_command_has_help_naming_its_operation_and_output_option(cli: Cli) -> None:
    """--help of every command exits 0, names the operation it runs, and offers --output json."""
    assert len(COMMANDS) > 30
    for path in COMMANDS:
        result = cli(*path, "--help")
        text = _one_line(result.out)
        assert result.code == 0, (path, result.err)
        assert f"crispml {' '.join(path)}" in text, path
        assert "--output" in text and "json" in text, path
        action = ACTIONS.get(path)
        if action is not None:
            assert f"Operation: {action}" in text, path


@pytest.mark.parametrize("path", [
    ("lake", "list-buckets"), ("lake", "ls"), ("iam", "get-caller-identity"),
    ("audit", "list-events"), ("monitoring", "get-call-metrics"), ("db", "current"),
], ids=" ".join)
def test_commands_without_arguments_print_json(cli: Cli, path: tuple[str, ...]) -> None:
    cli("db", "upgrade")
    assert isinstance(cli(*path, "--output", "json").json(), dict)


def test_main_with_no_arguments_shows_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2  # click's convention for a bare group: the help, and the usage-error code
    out = capsys.readouterr().out
    assert "Usage: crispml" in out and "demo" in out


def test_global_options_without_a_command(cli: Cli) -> None:
    result = cli()  # crispml --home HOME
    assert result.code == 2
    assert result.error_lines == ["error InvalidArgument: Missing command; see 'crispml --help'"]
