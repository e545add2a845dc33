"""``crispml lake ls|cp|rm`` over ``lake://`` paths, on the file lake and (where marked) on S3."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.cli.support import assert_refused, s3_env
from tests.fixtures.servers import S3Lake


@pytest.fixture(params=["file", pytest.param("s3", marks=pytest.mark.s3)])
def any_lake(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test on the default file:// lake and on an s3:// lake (moto server)."""
    if request.param == "s3":
        lake: S3Lake = request.getfixturevalue("s3_lake_url")
        for name, value in s3_env(lake).items():
            monkeypatch.setenv(name, value)
    return str(request.param)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A local folder with nested folders, text and binary files."""
    root = tmp_path / "tree"
    files = {
        "top.txt": b"top\n",
        "a/one.csv": b"x,y\n1,2\n",
        "a/b/two.bin": os.urandom(5000),
        "a/b/c/deep.bin": os.urandom(70_000),
        "empty.txt": b"",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _names(cli: Cli, *args: str) -> list[str]:
    return [e["name"] for e in cli("lake", "ls", *args, "-o", "json").json()["entries"]]


def test_cp_one_file_up_down_and_within_the_lake(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(os.urandom(20_000))
    cli("lake", "create-bucket", "--bucket", "cli-cp")

    up = cli("lake", "cp", str(source), "lake://cli-cp/models/model.bin", "-o", "json").json()
    assert up["files"] == 1 and up["bytes"] == 20_000
    assert up["copied"][0]["destination"] == "lake://cli-cp/models/model.bin"

    down = tmp_path / "down" / "model.bin"
    assert cli("lake", "cp", "lake://cli-cp/models/model.bin", str(down)).code == 0
    assert down.read_bytes() == source.read_bytes()

    into_folder = cli("lake", "cp", "lake://cli-cp/models/model.bin", "lake://cli-cp/backup/", "-o", "json")
    assert into_folder.json()["copied"][0]["destination"] == "lake://cli-cp/backup/model.bin"
    renamed = tmp_path / "renamed.bin"
    assert cli("lake", "cp", "lake://cli-cp/backup/model.bin", str(renamed)).code == 0
    assert renamed.read_bytes() == source.read_bytes()

    into_local_dir = tmp_path / "existing"
    into_local_dir.mkdir()
    table = cli("lake", "cp", "lake://cli-cp/models/model.bin", str(into_local_dir))
    assert table.code == 0
    assert table.out.splitlines()[0].strip(), "stdout holds the result only (no progress residue)"
    assert str(into_local_dir / "model.bin") in table.out
    assert (into_local_dir / "model.bin").read_bytes() == source.read_bytes()

    # every byte went through lake operations, so the audit log has them
    events = cli("audit", "list-events", "--action", "lake:PutObject", "-o", "json").json()["events"]
    assert "crn:crispml:lake:::bucket/cli-cp/models/model.bin" in {e["resource"] for e in events}


def test_cp_recursive_round_trip(cli: Cli, tree: Path, tmp_path: Path, any_lake: str) -> None:
    cli("lake", "create-bucket", "--bucket", "cli-tree")
    up = cli("lake", "cp", str(tree), "lake://cli-tree/data", "--recursive", "-o", "json").json()
    assert up["files"] == 5
    assert up["bytes"] == sum(len(b) for b in _files(tree).values())

    back = tmp_path / "back"
    assert cli("lake", "cp", "lake://cli-tree/data", str(back), "--recursive").code == 0, any_lake
    assert _files(back) == _files(tree)

    copy = cli("lake", "cp", "lake://cli-tree/data/a", "lake://cli-tree/copy", "-r", "-o", "json").json()
    assert copy["files"] == 3
    assert sorted(_names(cli, "lake://cli-tree/copy", "--recursive")) == [
        "lake://cli-tree/copy/b/c/deep.bin", "lake://cli-tree/copy/b/two.bin", "lake://cli-tree/copy/one.csv"]


def test_ls_buckets_folders_objects_and_recursive(cli: Cli, tree: Path, any_lake: str) -> None:
    cli("lake", "create-bucket", "--bucket", "cli-ls")
    cli("lake", "create-bucket", "--bucket", "cli-ls-other")
    cli("lake", "cp", str(tree), "lake://cli-ls/data", "--recursive")

    assert {"lake://cli-ls/", "lake://cli-ls-other/"} <= set(_names(cli))
    assert set(_names(cli, "lake://")) == set(_names(cli))

    entries = cli("lake", "ls", "lake://cli-ls/data/", "-o", "json").json()["entries"]
    by_name = {e["name"]: e for e in entries}
    assert set(by_name) == {"lake://cli-ls/data/a/", "lake://cli-ls/data/top.txt", "lake://cli-ls/data/empty.txt"}
    assert by_name["lake://cli-ls/data/a/"]["type"] == "directory"
    assert by_name["lake://cli-ls/data/top.txt"]["type"] == "file"
    assert by_name["lake://cli-ls/data/top.txt"]["size"] == 4
    assert by_name["lake://cli-ls/data/top.txt"]["storage_class"] == "STANDARD"
    assert by_name["lake://cli-ls/data/top.txt"]["last_modified"].endswith("Z")  # ISO 8601, UTC

    everything = _names(cli, "lake://cli-ls/data", "--recursive")
    assert sorted(everything) == sorted(f"lake://cli-ls/data/{k}" for k in _files(tree))

    table = cli("lake", "ls", "lake://cli-ls/data/a/")
    assert table.code == 0
    assert "lake://cli-ls/data/a/b/" in table.out and "lake://cli-ls/data/a/one.csv" in table.out


def test_rm_a_key_then_a_prefix(cli: Cli, tree: Path, any_lake: str) -> None:
    cli("lake", "create-bucket", "--bucket", "cli-rm")
    cli("lake", "cp", str(tree), "lake://cli-rm/data", "--recursive")

    one = cli("lake", "rm", "lake://cli-rm/data/top.txt", "-o", "json").json()
    assert one == {"deleted": [{"path": "lake://cli-rm/data/top.txt"}], "count": 1}
    assert "lake://cli-rm/data/top.txt" not in _names(cli, "lake://cli-rm/data", "--recursive")

    prefix = cli("lake", "rm", "lake://cli-rm/data/a", "--recursive", "-o", "json").json()
    assert prefix["count"] == 3
    assert _names(cli, "lake://cli-rm/data", "--recursive") == ["lake://cli-rm/data/empty.txt"]
    # only the prefix went: the bucket and its other keys are still there
    assert "lake://cli-rm/" in _names(cli)


def test_cp_needs_a_lake_side(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a", encoding="utf-8")
    assert_refused(cli("lake", "cp", str(tmp_path / "a.txt"), str(tmp_path / "b.txt")),
                   "InvalidArgument", "lake://")
    assert not (tmp_path / "b.txt").exists()


def test_rm_of_a_missing_key_is_refused(cli: Cli) -> None:
    cli("lake", "create-bucket", "--bucket", "cli-rm-missing")
    assert_refused(cli("lake", "rm", "lake://cli-rm-missing/never/was.txt"), "NotFound",
                   "lake://cli-rm-missing/never/was.txt")


def test_rm_of_a_folder_without_recursive_says_so(cli: Cli, tree: Path) -> None:
    cli("lake", "create-bucket", "--bucket", "cli-rm-folder")
    cli("lake", "cp", str(tree), "lake://cli-rm-folder/data", "--recursive")
    assert_refused(cli("lake", "rm", "lake://cli-rm-folder/data"), "NotFound", "--recursive")
    assert len(_names(cli, "lake://cli-rm-folder/data", "--recursive")) == 5


@pytest.mark.parametrize("args", [
    ("ls", "lake://no-such-bucket-here/"),
    ("cp", "lake://no-such-bucket-here/x.txt", "out.txt"),
    ("cp", "in.txt", "lake://no-such-bucket-here/x.txt"),
    ("cp", "lake://cli-present/in.txt", "lake://no-such-bucket-here/x.txt"),
    ("rm", "lake://no-such-bucket-here/x.txt"),
], ids=["ls", "cp-down", "cp-up", "cp-across", "rm"])
def test_missing_bucket_is_refused_by_every_shortcut(cli: Cli, args: tuple[str, ...], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("in", encoding="utf-8")
    cli("lake", "create-bucket", "--bucket", "cli-present")
    assert cli("lake", "cp", "in.txt", "lake://cli-present/in.txt").code == 0
    result = cli("lake", *args)
    assert result.code == 2 and "Traceback" not in result.err
    assert len(result.error_lines) == 1 and "no-such-bucket-here" in result.err


def test_a_local_path_is_not_listed(cli: Cli, tmp_path: Path) -> None:
    assert_refused(cli("lake", "ls", str(tmp_path)), "InvalidArgument", "lake://")


@pytest.mark.parametrize("args", [
    ("rm", "--recursive", "lake://"),
    ("cp", "--recursive", "lake://", "everything"),
    ("cp", "in.txt", "lake:///"),
], ids=["rm-all", "cp-all-down", "cp-up-no-bucket"])
def test_shortcuts_need_a_bucket(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 args: tuple[str, ...]) -> None:
    """'rm -r lake://' must not empty every bucket (aws s3 rm needs a bucket too)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("in", encoding="utf-8")
    cli("lake", "create-bucket", "--bucket", "cli-kept")
    cli("lake", "cp", "in.txt", "lake://cli-kept/in.txt")
    assert_refused(cli("lake", *args), "InvalidArgument", "needs a bucket")
    assert _names(cli, "lake://cli-kept/") == ["lake://cli-kept/in.txt"]
    assert not (tmp_path / "everything").exists()
