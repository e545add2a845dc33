"""Hive-style link trees over local lake files, shared by the statements that read the same files.

DuckDB reads a partitioned table's local files in one ``read_parquet(...,
hive_partitioning=true)`` only if their paths carry ``key=value`` folders,
which the lake's blob paths do not: so the files are reached through symlinks
laid out as Hive folders (``access.py``). Making a tree (a folder per
partition, a link per file) and removing it took ~6 ms of every statement.

A tree is named by a digest of exactly what it holds — the partition keys,
each partition's values, each file's real path and lake key — and blobs never
change once written (a put makes a new blob), so a tree of the same name
always links the same bytes: statements that read the same files read one
tree, made by the first. A statement whose files differ (a partition dropped
or added, an object overwritten, a pruned read) gets a tree of its own name.
Sharing a tree grants nothing: a statement's database may open exactly its
own tree's links (``seal.py``), never a folder of them, so another tree's
links stay out of its reach. A tree in use is never removed; unused ones are
kept up to :data:`KEEP`, the least recently used removed first.
Deliberately not here: which files a statement may read (``access.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import quote

#: Unused trees kept for the statements to come (each is a few folders and a link per file).
KEEP = 64

#: Each partition: its key values and its files as (real path, lake key) pairs.
Layout = list[tuple[list[str], list[tuple[str, str]]]]


@dataclass
class _Tree:
    folder: str
    links: list[str]
    users: int = 0


class LinkTrees:
    """The link trees of one engine, under one folder of its own (removed by :meth:`close`)."""

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._root: str | None = None
        self._removal: weakref.finalize[..., LinkTrees] | None = None  # removes the root at exit, if close() did not
        self._trees: OrderedDict[str, _Tree] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    def acquire(self, keys: list[str], parts: Layout) -> tuple[str, list[str]]:
        """(tree name, its links in ``parts``' order) for these files, made if no statement made it yet;
        the tree stays until :meth:`release` of that name."""
        name = hashlib.sha256(json.dumps([keys, parts]).encode()).hexdigest()[:32]
        with self._lock:
            tree = self._trees.get(name)
            if tree is None or not os.path.isdir(tree.folder):  # never made, or removed from outside
                tree = _Tree(*self._make(name, keys, parts), users=tree.users if tree is not None else 0)
                self._trees[name] = tree
            self._trees.move_to_end(name)
            tree.users += 1
            return name, list(tree.links)

    def release(self, name: str) -> None:
        """A statement is done with the tree ``name``; unused trees past :attr:`keep` are removed."""
        with self._lock:
            tree = self._trees.get(name)
            if tree is not None:
                tree.users -= 1
            unused = [n for n, t in self._trees.items() if t.users <= 0]
            for stale in unused[:max(0, len(unused) - self.keep)]:
                # under the lock: a statement acquiring the same files next makes the tree again at this path
                shutil.rmtree(self._trees.pop(stale).folder, ignore_errors=True)

    def _make(self, name: str, keys: list[str], parts: Layout) -> tuple[str, list[str]]:
        if self._root is None or not os.path.isdir(self._root):
            self._root = tempfile.mkdtemp(prefix="crispml-query-links-")
            # the query service keeps its engine for the life of the process: the trees go when it ends
            self._removal = weakref.finalize(self, shutil.rmtree, self._root, True)
        folder = os.path.join(self._root, name)
        shutil.rmtree(folder, ignore_errors=True)  # a tree half made by a statement that failed
        links: list[str] = []
        for values, files in parts:
            partition = os.path.join(folder, *(f"{k}={quote(v, safe='')}" for k, v in zip(keys, values, strict=True)))
            os.makedirs(partition, exist_ok=True)
            for real, key in files:
                # the lake key's file name, so that DuckDB still sees .gz/.zst and reads compressed files
                link = os.path.join(partition, f"{len(links):06d}-{key.rsplit('/', 1)[-1]}")
                os.symlink(real, link)
                links.append(link)
        os.makedirs(folder, exist_ok=True)  # a tree of no partitions is a folder too
        return folder, links

    def close(self) -> None:
        """Remove every tree (statements still reading one fail)."""
        with self._lock:
            removal, self._root, self._removal = self._removal, None, None
            self._trees.clear()
        if removal is not None:
            removal()
