"""The core lake flow through real ``python -m crispml`` child processes, as a user runs it: processes that
share one home, bytes piped in and out, the console script. The steps around them, and the same flow on
an S3 lake, run in this process (tests/cli/test_lake_shortcuts.py and test_cli_errors.py hold the other
CLI checks)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import crispml
from tests.cli.support import Run, run_cli, s3_env
from tests.fixtures.servers import S3Lake, s3_client


def test_core_flow_in_child_processes(tmp_path: Path, home: Path, run: Run) -> None:
    """Two processes write and read one home that this process made and reads back: the home is shared
    through its files, and bytes reach a process's stdout unchanged."""
    data = tmp_path / "train.csv"
    data.write_bytes(b"x,y\n" + b"".join(f"{i},{i % 2}\n".encode() for i in range(5000)))
    assert run("lake", "create-bucket", "--bucket", "cli-sub").code == 0

    copied = run_cli("lake", "cp", str(data), "lake://cli-sub/raw/train.csv", "-o", "json", home=home)
    assert copied.json()["bytes"] == data.stat().st_size
    streamed = run_cli("lake", "get-object", "--bucket", "cli-sub", "--key", "raw/train.csv", "-", home=home)
    assert streamed.code == 0 and streamed.err == ""
    assert streamed.raw_out == data.read_bytes()

    listing = run("lake", "ls", "lake://cli-sub/raw/", "--output", "json").json()
    assert [(e["name"], e["size"]) for e in listing["entries"]] == [
        ("lake://cli-sub/raw/train.csv", data.stat().st_size)]
    target = tmp_path / "back.csv"
    assert run("lake", "get-object", "--bucket", "cli-sub", "--key", "raw/train.csv", str(target)).code == 0
    assert target.read_bytes() == data.read_bytes()
    # the home the processes shared is a real one: the children's calls are in its audit log, as the CLI's
    events = run("audit", "list-events", "-o", "json").json()["events"]
    assert {(e["action"], e["source"]) for e in events} >= {
        ("lake:CreateBucket", "cli"), ("lake:PutObject", "cli"), ("lake:GetObject", "cli")}
    assert sum(e["action"] == "lake:GetObject" for e in events) == 2  # the child's and this process's


def test_body_from_standard_input(home: Path, run: Run) -> None:
    assert run("lake", "create-bucket", "--bucket", "cli-pipe").code == 0
    piped = run_cli("lake", "put-object", "--bucket", "cli-pipe", "--key", "p.bin", "--body", "-",
                    home=home, stdin=b"\x00piped\xff")
    assert piped.code == 0, piped.err
    out = run("lake", "get-object", "--bucket", "cli-pipe", "--key", "p.bin", "-")
    assert out.raw_out == b"\x00piped\xff"


@pytest.mark.s3
def test_core_flow_on_an_s3_lake(tmp_path: Path, s3_lake_url: S3Lake, run: Run,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in s3_env(s3_lake_url).items():  # configured as a user would: by the environment
        monkeypatch.setenv(name, value)
    (tmp_path / "a.txt").write_text("on s3\n", encoding="utf-8")
    assert run("lake", "create-bucket", "--bucket", "cli-sub-s3").code == 0
    assert run("lake", "cp", str(tmp_path / "a.txt"), "lake://cli-sub-s3/a.txt").code == 0
    listing = run("lake", "ls", "lake://cli-sub-s3/", "-o", "json").json()
    assert [e["name"] for e in listing["entries"]] == ["lake://cli-sub-s3/a.txt"]
    out = run("lake", "get-object", "--bucket", "cli-sub-s3", "--key", "a.txt", "-")
    assert out.raw_out == b"on s3\n"
    # and the objects are really on the S3 server, under the lake's prefix
    keys = [o["Key"] for o in s3_client(s3_lake_url.endpoint).list_objects_v2(
        Bucket=s3_lake_url.bucket).get("Contents", [])]
    assert keys and all(k.startswith("lake/") for k in keys)


def test_console_script_and_version(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("crispml")
    if not os.access(script, os.X_OK):
        pytest.skip(f"no crispml console script next to {sys.executable} (not installed as a package)")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert (proc.returncode, proc.stdout.strip()) == (0, f"crispml {crispml.__version__}")
    assert run_cli("--version", home=tmp_path).out.strip() == f"crispml {crispml.__version__}"


def test_the_cli_does_not_need_click_installed(tmp_path: Path) -> None:
    """typer vendors click; a plain `import click` only worked because a dev tool (flask) pulled it in."""
    code = "import sys; sys.modules['click'] = None; from crispml.cli.main import main; sys.exit(main(['--version']))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          check=False, cwd=tmp_path)
    assert (proc.returncode, proc.stdout.strip()) == (0, f"crispml {crispml.__version__}"), proc.stderr
