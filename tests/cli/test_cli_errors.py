"""What a user sees when crispml refuses: exit code 2, one line ``error <Code>: …``, no traceback.

Every case runs in this process through ``main``, with table and with JSON output.
A case of each stage a refusal can come from — parsing the command line, opening
the home, an operation, the lake's storage — runs again as a real child process
(``python -m crispml``), because the exit status and standard error of the process
are what scripts and people actually get. The set-up steps of a case run in this
process, on the same home.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.cli.support import assert_refused, run_cli

UNREACHABLE_DB = {"CRISPML_DB_URL": "postgresql://postgres@127.0.0.1:1/nope"}
UNREACHABLE_S3 = {
    "CRISPML_LAKE_URL": "s3://unreachable-lake/prefix",
    "CRISPML_S3_ENDPOINT_URL": "http://127.0.0.1:1",
    "CRISPML_S3_ACCESS_KEY_ID": "testing",
    "CRISPML_S3_SECRET_ACCESS_KEY": "testing",
}


@dataclass(frozen=True)
class Refusal:
    """A command that must be refused; ``{tmp}`` in arguments is the test's folder."""

    name: str
    args: tuple[str, ...]
    code: str
    mentions: tuple[str, ...]
    setup: tuple[tuple[str, ...], ...] = ()
    env: dict[str, str] = field(default_factory=dict)


_PUT = ("lake", "put-object", "--bucket", "cli-errors", "--body", "{tmp}/body.txt")

REFUSALS = [
    Refusal("invalid-bucket-name", ("lake", "create-bucket", "--bucket", "Not_A_Bucket"),
            "InvalidBucketName", ("'Not_A_Bucket'",)),
    Refusal("missing-bucket", ("lake", "list-objects-v2", "--bucket", "no-such-bucket-here"),
            "NoSuchBucket", ("'no-such-bucket-here'",)),
    Refusal("non-empty-bucket", ("lake", "delete-bucket", "--bucket", "cli-errors"),
            "BucketNotEmpty", ("'cli-errors'",),
            setup=(("lake", "create-bucket", "--bucket", "cli-errors"), (*_PUT, "--key", "kept.txt"))),
    Refusal("glacier-before-restore",
            ("lake", "get-object", "--bucket", "cli-errors", "--key", "cold.txt", "{tmp}/out.txt"),
            "InvalidObjectState", ("GLACIER", "restore-object"),
            setup=(("lake", "create-bucket", "--bucket", "cli-errors"),
                   (*_PUT, "--key", "cold.txt", "--storage-class", "GLACIER"))),
    Refusal("key-escaping-the-bucket", (*_PUT, "--key", "data/../../etc/passwd"),
            "InvalidKey", ("'..'",), setup=(("lake", "create-bucket", "--bucket", "cli-errors"),)),
    Refusal("unknown-option", ("lake", "list-buckets", "--no-such-option"),
            "InvalidArgument", ("--no-such-option", "crispml lake list-buckets --help")),
    Refusal("bad-choice", (*_PUT, "--key", "k", "--storage-class", "DEEP_FREEZE"),
            "InvalidArgument", ("--storage-class", "DEEP_FREEZE")),
    Refusal("malformed-json", (*_PUT, "--key", "k", "--metadata", "{owner: ml}"),
            "InvalidArgument", ("--metadata", "JSON")),
    Refusal("missing-body-file", ("lake", "put-object", "--bucket", "cli-errors", "--key", "k",
                                  "--body", "{tmp}/no-such-file.bin"),
            "InvalidArgument", ("--body", "no-such-file.bin"),
            setup=(("lake", "create-bucket", "--bucket", "cli-errors"),)),
    Refusal("unreachable-db", ("lake", "list-buckets"), "Unavailable",
            ("127.0.0.1", "CRISPML_DB_URL"), env=UNREACHABLE_DB),
    Refusal("unreachable-db-migrate", ("db", "upgrade"), "Unavailable",
            ("127.0.0.1", "CRISPML_DB_URL"), env=UNREACHABLE_DB),
    # the bucket is made on the default file lake; only the upload goes to the dead endpoint
    Refusal("unreachable-s3", (*_PUT, "--key", "k"), "Unavailable",
            ("127.0.0.1:1", "CRISPML_S3_ENDPOINT_URL"),
            setup=(("lake", "create-bucket", "--bucket", "cli-errors"),), env=UNREACHABLE_S3),
    Refusal("unknown-principal", ("--principal", "mallory", "lake", "list-buckets"),
            "UnrecognizedClientException", ("'mallory'",)),
]


def _prepare(case: Refusal, cli: Cli, tmp_path: Path) -> tuple[str, ...]:
    (tmp_path / "body.txt").write_text("some bytes\n", encoding="utf-8")
    for step in case.setup:
        done = cli(*(a.replace("{tmp}", str(tmp_path)) for a in step))
        assert done.code == 0, (step, done.err)
    return tuple(a.replace("{tmp}", str(tmp_path)) for a in case.args)


@pytest.mark.parametrize("case", REFUSALS, ids=lambda c: c.name)
def test_refused_in_process(case: Refusal, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = _prepare(case, cli, tmp_path)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    line = assert_refused(cli(*args), case.code, *case.mentions)
    assert "testing" not in line  # no credential in a message


@pytest.mark.parametrize("case", REFUSALS, ids=lambda c: c.name)
def test_refused_with_json_output_leaves_stdout_empty(case: Refusal, cli: Cli, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A script reading ``-o json`` gets nothing on stdout, and the same one line on stderr."""
    args = _prepare(case, cli, tmp_path)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    refused = cli(*args, "-o", "json")
    assert_refused(refused, case.code, *case.mentions)
    assert refused.out == ""


#: One case per stage a refusal comes from, for the child processes: the command line (parsing), opening
#: the home (the metadata DB), an operation's own refusal, and the lake's storage (an S3 client to close).
IN_A_CHILD = ("unknown-option", "unreachable-db", "missing-bucket", "unreachable-s3")


@pytest.mark.parametrize("case", [c for c in REFUSALS if c.name in IN_A_CHILD], ids=lambda c: c.name)
def test_refused_in_a_child_process(case: Refusal, cli: Cli, home: Path, tmp_path: Path) -> None:
    args = _prepare(case, cli, tmp_path)
    assert_refused(run_cli(*args, home=home, env=case.env), case.code, *case.mentions)


def test_unknown_principal_is_refused_and_audited(cli: Cli) -> None:
    assert_refused(cli("--principal", "mallory", "lake", "create-bucket", "--bucket", "mallorys-bucket"),
                   "UnrecognizedClientException", "'mallory'")
    failures = cli("audit", "list-events", "--outcome", "Failure", "-o", "json").json()["events"]
    refusal = [e for e in failures if e["principal"] == "mallory"]
    assert [(e["action"], e["error_code"]) for e in refusal] == [
        ("lake:CreateBucket", "UnrecognizedClientException")]
    names = [b["name"] for b in cli("lake", "list-buckets", "-o", "json").json()["buckets"]]
    assert "mallorys-bucket" not in names


def test_error_text_is_shown_verbatim_not_as_markup(cli: Cli) -> None:
    """A key like 'a[/b]' is quoted as is: rich must not read it as a closing tag (or crash on it)."""
    cli("lake", "create-bucket", "--bucket", "cli-errors")
    line = assert_refused(cli("lake", "head-object", "--bucket", "cli-errors", "--key", "x[/y]"),
                          "NoSuchKey", "'x[/y]'")
    assert "Traceback" not in line


def test_a_table_shows_keys_verbatim(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("b", encoding="utf-8")
    cli("lake", "create-bucket", "--bucket", "cli-errors")
    for key in ("x[/y]", "z[bold]w"):
        assert cli("lake", "put-object", "--bucket", "cli-errors", "--key", key,
                   "--body", str(tmp_path / "b.txt")).code == 0
    table = cli("lake", "list-objects-v2", "--bucket", "cli-errors")
    assert table.code == 0, table.err
    assert "x[/y]" in table.out and "z[bold]w" in table.out
    head = cli("lake", "head-object", "--bucket", "cli-errors", "--key", "z[bold]w")
    assert "z[bold]w" in head.out


def test_json_errors_do_not_leak_to_stdout(cli: Cli) -> None:
    result = cli("lake", "head-bucket", "--bucket", "no-such-bucket-here", "-o", "json")
    assert result.code == 2 and result.out == ""
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.out)
