"""How DuckDB reaches lake files, each read authorized as the caller first (DESIGN.md §6).

For every file a statement reads, the caller's ``GetObject`` is authorized and
audited once — all of a statement's files in one step, through the lake's
``readable_paths``. Then, on a ``file://`` lake, the lake service hands out the
object's real path and DuckDB reads it
natively (``read_parquet`` on local files); otherwise (an ``s3://`` lake, or an
object the lake will not hand out) DuckDB reads ``lake://bucket/key`` through
the lake's filesystem registered on the connection, acting as the caller — no DuckDB extension is downloaded. Every
real path is remembered with its ``lake://`` URI so that messages never show
blob paths. The execution's DuckDB database is sealed to exactly these files
(:meth:`LakeAccess.allowed`, ``seal.py``), so DuckDB opens nothing it was not
authorized to read.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading

import duckdb
from crispml.core.errors import CrispmlError, NotFound
from crispml.services.query.engines.base import Caller, QueryFailed
from crispml.services.query.engines.duckdb.errors import error_type
from crispml.services.query.engines.duckdb.links import Layout, LinkTrees
from crispml.services.query.engines.duckdb.scan import DataFile, Scan


class LakeAccess:
    """The readable path of each lake file for one execution."""

    def __init__(self, caller: Caller, trees: LinkTrees | None = None) -> None:
        self._caller = caller
        #: The engine's link trees (``links.py``); an execution without an engine has its own.
        self._trees = trees if trees is not None else LinkTrees(keep=0)
        self._own_trees = trees is None
        self._held: list[str] = []
        #: Whether some file is read through ``lake://`` (the connection needs the filesystem registered).
        self.needs_filesystem = False
        #: real path (or lake URI) DuckDB opened → the lake URI to show
        self.paths: dict[str, str] = {}
        self._local: set[str] = set()
        self._folder: str | None = None

    def paths_of(self, scans: list[Scan]) -> list[list[list[str]]]:
        """Authorize a read of every file of every scan as the caller; where DuckDB reads each
        (scan → partition → file). All files are authorized in one step (one GetObject event each in the
        audit log, see the lake's ``readable_paths``); a file that cannot be read fails the query naming it."""
        files = [(f, scan.ref.qualified) for scan in scans for part in scan.parts for f in part.files]
        found = iter(self._readable(files))
        return [[[next(found) for _ in part.files] for part in scan.parts] for scan in scans]

    def _readable(self, files: list[tuple[DataFile, str]]) -> list[str]:
        if not files:
            return []
        found = self._caller.lake.readable_paths(self._caller.ctx, [(f.bucket, f.key) for f, _ in files])
        paths: list[str] = []
        for (file, table), local in zip(files, found, strict=True):
            if isinstance(local, CrispmlError):
                raise _unreadable(file, table, local) from local
            paths.append(self._where(file, local, table))
        return paths

    def _where(self, file: DataFile, local: str | None, table: str) -> str:
        if local is not None and not os.path.lexists(local):
            raise QueryFailed(
                f"data file {file.uri} of table {table} is missing: the lake lists the object but its stored "
                "bytes are gone (removed outside crispml); put the object again, or delete it and run the "
                "table's crawler again", "NotFound")
        if local is not None and os.access(local, os.R_OK):
            self.paths[local] = file.uri
            self._local.add(local)
            return str(local)
        self.needs_filesystem = True
        self.paths[file.uri] = file.uri
        return file.uri

    def allowed(self) -> list[str]:
        """Every path DuckDB may open for this execution: the authorized files, and nothing else (the
        database is sealed to them, ``seal.py``)."""
        return list(self.paths)

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Make ``lake://`` readable on ``con`` as the caller (a connection of its own database: DuckDB
        registers filesystems per database, and another caller's query must not read through this one)."""
        con.register_filesystem(self._caller.lake.filesystem(self._caller.ctx))

    def is_local(self, path: str) -> bool:
        return path in self._local

    def scratch(self) -> str:
        """This execution's scratch folder (removed by :meth:`close`): decompressed copies, files a CTAS or
        INSERT writes before they are uploaded, and what DuckDB spills; its database may reach it."""
        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="crispml-query-")
        return self._folder

    def adopt(self, path: str, uri: str) -> None:
        """A local file made for this execution (a decompressed copy) that stands for the lake file ``uri``."""
        self.paths[path] = uri
        self._local.add(path)

    def link(self, keys: list[str], parts: Layout) -> list[str]:
        """Symlinks to local files laid out as Hive folders (``key=value/``), one per file in ``parts`` order.

        ``parts`` holds each partition's values and its (real path, lake key) pairs. The links keep the lake
        key's file name, so DuckDB still sees ``.gz``/``.zst`` and reads compressed files; the folders carry
        the partition values, so one ``read_parquet(..., hive_partitioning=true)`` reads every partition (and
        ``count(*)`` keeps DuckDB's metadata shortcut, which a ``UNION ALL`` per partition loses). The tree
        is the engine's, shared with the statements that read the same files (``links.py``); the links join
        :meth:`allowed`, each mapped to its file's lake URI.
        """
        tree, links = self._trees.acquire(keys, parts)
        self._held.append(tree)
        real = [path for _, files in parts for path, _ in files]
        for link, path in zip(links, real, strict=True):
            self.paths[link] = self.paths.get(path, path)
        return links

    @property
    def has_scratch(self) -> bool:
        """Whether this execution made its scratch folder (decompressed copies, written files)."""
        return self._folder is not None

    def close(self) -> None:
        """Let go of the link trees and remove the scratch folder (on a helper thread: removing folders is
        slow on some filesystems, and nothing waits for it)."""
        for tree in self._held:
            self._trees.release(tree)
        self._held.clear()
        if self._own_trees:
            self._trees.close()
        if self._folder is not None:
            threading.Thread(target=shutil.rmtree, args=(self._folder, True), daemon=True,
                             name="query-scratch-cleanup").start()
            self._folder = None


def _unreadable(file: DataFile, table: str, exc: CrispmlError) -> QueryFailed:
    if isinstance(exc, NotFound):
        return QueryFailed(f"data file {file.uri} of table {table} no longer exists (it was deleted after the "
                           f"query was planned, or by another writer): {exc.message}", "NotFound")
    return QueryFailed(f"data file {file.uri} of table {table} cannot be read: {exc.message}", error_type(exc))
