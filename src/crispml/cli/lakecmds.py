"""``crispml lake ls|cp|rm``: the short forms of ``aws s3 ls|cp|rm``.

They work on ``lake://bucket/key`` paths through the client's ``lake://``
filesystem, so every byte and every listing still goes through lake
operations (authorized, audited, measured).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import typer

from crispml.cli.generated import OutputFormat
from crispml.cli.state import state_of
from crispml.core.errors import InvalidArgument, NotFound
from crispml.core.faults import os_fault
from crispml.render import error_console, render

LAKE = "lake://"


def _is_lake(path: str) -> bool:
    return path.startswith(LAKE)


def _strip(path: str) -> str:
    return path[len(LAKE):].strip("/") if _is_lake(path) else path


def ls(
    ctx: typer.Context,
    path: str = typer.Argument("lake://", help="lake://bucket/prefix (default: list buckets)."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="List every key under the prefix."),
    output: OutputFormat = typer.Option(OutputFormat.table, "--output", "-o", help="table or json."),
) -> None:
    """List buckets, or the folders and objects under a lake:// prefix."""
    if not _is_lake(path):
        raise InvalidArgument(f"{path!r} is not a lake path; use lake://bucket/prefix")
    fs = state_of(ctx).client().fs
    target = _strip(path)
    try:
        entries = list(fs.find(target, detail=True).values()) if recursive and target else fs.ls(target, detail=True)
    except FileNotFoundError as exc:
        raise NotFound(str(exc)) from exc
    rows = [{"name": f"{LAKE}{e['name']}" + ("/" if e["type"] == "directory" else ""),
             "type": e["type"], "size": e.get("size", 0),
             "last_modified": e.get("LastModified") or e.get("created"),
             "storage_class": e.get("StorageClass")} for e in entries]
    render({"entries": rows, "count": len(rows)}, output.value)


def cp(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="A local path or lake://bucket/key."),
    destination: str = typer.Argument(..., help="A local path or lake://bucket/key (ending in / for a folder)."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Copy a whole folder or prefix."),
    output: OutputFormat = typer.Option(OutputFormat.table, "--output", "-o", help="table or json."),
) -> None:
    """Copy files between local paths and the lake, or within the lake."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    fs = state_of(ctx).client().fs
    pairs = _plan(fs, source, destination, recursive)
    copied: list[dict[str, Any]] = []
    total = sum(size for _, _, size in pairs)
    # The bar goes to stderr and only to a terminal: stdout keeps just the result, even when piped.
    # markup=False: a file name such as 'a[1].csv' is text, not rich markup.
    bar_console = error_console()
    with Progress(TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), transient=True, console=bar_console,
                  disable=output.value == "json" or not bar_console.is_terminal) as progress:
        task = progress.add_task("copying", total=total)
        for src, dst, size in pairs:
            progress.update(task, description=os.path.basename(src.rstrip("/"))[:40])
            _copy_one(fs, src, dst)
            progress.advance(task, size)
            copied.append({"source": src, "destination": dst, "size": size})
    render({"copied": copied, "files": len(copied), "bytes": total}, output.value)


def _plan(fs: Any, source: str, destination: str, recursive: bool) -> list[tuple[str, str, int]]:
    """(source, destination, size) for every file to copy."""
    if not _is_lake(source) and not _is_lake(destination):
        raise InvalidArgument("one side of 'lake cp' must be a lake:// path")
    _needs_bucket(source, "cp")
    _needs_bucket(destination, "cp")
    if not recursive:
        size = _size(fs, source)
        if destination.endswith("/") or (not _is_lake(destination) and Path(destination).is_dir()):
            destination = destination.rstrip("/") + "/" + os.path.basename(_strip(source).rstrip("/"))
        return [(source, destination, size)]
    if _is_lake(source):
        base = _strip(source)
        try:
            found = fs.find(base, detail=True)
        except FileNotFoundError as exc:
            raise NotFound(str(exc)) from exc
        return [(f"{LAKE}{name}", _join(destination, name[len(base):].lstrip("/")), info["size"])
                for name, info in sorted(found.items())]
    root = Path(source).expanduser()
    if not root.is_dir():
        raise InvalidArgument(f"{source} is not a folder; drop --recursive to copy one file")
    return [(str(p), _join(destination, p.relative_to(root).as_posix()), p.stat().st_size)
            for p in sorted(root.rglob("*")) if p.is_file()]


def _needs_bucket(path: str, command: str) -> None:
    if _is_lake(path) and not _strip(path):
        raise InvalidArgument(f"'lake {command}' needs a bucket in {path!r}: use lake://bucket/key")


def _join(base: str, relative: str) -> str:
    return base.rstrip("/") + "/" + relative if relative else base


def _size(fs: Any, path: str) -> int:
    if _is_lake(path):
        try:
            info = fs.info(_strip(path))
        except FileNotFoundError as exc:
            raise NotFound(str(exc)) from exc
        if info["type"] != "file":
            raise InvalidArgument(f"{path} is a folder; use --recursive")
        return int(info["size"])
    local = Path(path).expanduser()
    if not local.is_file():
        raise InvalidArgument(f"{path} is not a file" + ("; use --recursive" if local.is_dir() else ""))
    return local.stat().st_size


def _copy_one(fs: Any, source: str, destination: str) -> None:
    try:
        if _is_lake(source) and _is_lake(destination):
            fs.cp_file(_strip(source), _strip(destination))
        elif _is_lake(destination):
            fs.put_file(str(Path(source).expanduser()), _strip(destination))
        else:
            target = Path(destination).expanduser()
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(_strip(source), str(target))
    except FileNotFoundError as exc:  # the lake filesystem's form of NoSuchBucket / NoSuchKey
        raise NotFound(str(exc)) from exc
    except OSError as exc:  # the local side: a name this file system cannot hold, a full or read-only disk
        raise _local_error(exc, source, destination) from exc


def _local_error(exc: OSError, source: str, destination: str) -> Exception:
    """The typed error for a local file system's refusal while copying ``source`` to ``destination``."""
    local = destination if _is_lake(source) else source
    if exc.errno == errno.ENAMETOOLONG:
        longest = max(Path(local).parts, key=lambda part: len(part.encode()))
        shown = longest if len(longest) <= 40 else f"{longest[:40]}…"
        return InvalidArgument(
            f"cannot copy {_short(source)} to {_short(destination)}: the name {shown!r} is "
            f"{len(longest.encode()):,} bytes, or the whole path {len(local.encode()):,}, more than this file "
            f"system allows (usually 255 bytes a name, 4,096 a path); copy that object on its own to a shorter "
            f"name: crispml lake cp {source if _is_lake(source) else destination} ./shorter-name")
    fault = os_fault(exc, f"copying {_short(source)} to {_short(destination)}", Path(local).parent)
    return fault if fault is not None else exc


def _short(path: str) -> str:
    return path if len(path) <= 80 else f"{path[:60]}…({len(path):,} characters)"


def rm(
    ctx: typer.Context,
    path: str = typer.Argument(..., help="lake://bucket/key, or a prefix with --recursive."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Delete every key under the prefix."),
    output: OutputFormat = typer.Option(OutputFormat.table, "--output", "-o", help="table or json."),
) -> None:
    """Delete an object, or every object under a prefix."""
    if not _is_lake(path):
        raise InvalidArgument(f"{path!r} is not a lake path; use lake://bucket/key")
    _needs_bucket(path, "rm")  # 'rm -r lake://' would otherwise empty every bucket
    fs = state_of(ctx).client().fs
    target = _strip(path)
    try:
        keys = fs.find(target) if recursive else ([target] if fs.isfile(target) else [])
    except FileNotFoundError as exc:
        raise NotFound(str(exc)) from exc
    if not keys and not recursive:
        raise NotFound(f"{path} does not exist" + ("; it is a folder, use --recursive" if fs.isdir(target) else ""))
    if keys:
        fs.rm(keys)
    render({"deleted": [{"path": f"{LAKE}{k}"} for k in keys], "count": len(keys)}, output.value)


def register(group: typer.Typer) -> None:
    group.command("ls", short_help="List buckets or a lake:// prefix.")(ls)
    group.command("cp", short_help="Copy between local paths and lake://.")(cp)
    group.command("rm", short_help="Delete objects under lake://.")(rm)
