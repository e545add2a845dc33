"""Compressed CSV and JSON files, made readable by DuckDB.

DuckDB reads gzip and zstd text files itself when their names end with
``.gz`` / ``.zst``. Every other compressed file — bzip2 and snappy, which
DuckDB cannot read, or gzip/zstd known only by their first bytes (Firehose's
``FileExtension`` is free) — is decompressed once into the execution's scratch
folder and read from there; messages still name its lake URI. Which codec a
file uses is ``core/compression.py``'s answer (extension, else first bytes).
The bytes scanned stay the compressed sizes, as Athena counts them.
Deliberately not here: Parquet (compressed inside the file).
"""

from __future__ import annotations

import os
import shutil
import zlib
from typing import Any

import pyarrow as pa

from crispml.core.compression import EXTENSIONS, MAGIC_BYTES, Codec, codec_by_name, codec_of, decompressing
from crispml.core.errors import CrispmlError
from crispml.services.query.engines.base import Caller, QueryFailed
from crispml.services.query.engines.duckdb.access import LakeAccess
from crispml.services.query.engines.duckdb.scan import DataFile, Scan

#: Codecs DuckDB's CSV and JSON readers apply themselves, by the file name's ending.
_NATIVE: dict[Codec, str] = {"gzip": ".gz", "zstd": ".zst"}


def text_files(caller: Caller, access: LakeAccess, scan: Scan,
               paths: list[list[str]]) -> list[list[tuple[str, str]]]:
    """For each partition's files: (the path DuckDB reads, the file name to show it under)."""
    fs: list[Any] = []

    def lake() -> Any:
        if not fs:
            fs.append(caller.lake.filesystem(caller.ctx))
        return fs[0]

    return [[_readable(access, lake, file, path, scan.ref.qualified) for file, path in zip(part.files, part_paths,
                                                                                         strict=True)]
            for part, part_paths in zip(scan.parts, paths, strict=True)]


def _readable(access: LakeAccess, lake: Any, file: DataFile, path: str, table: str) -> tuple[str, str]:
    name = file.key.rsplit("/", 1)[-1]
    local = access.is_local(path)
    codec = codec_by_name(name)
    try:
        if codec is None:
            with (open(path, "rb") if local else lake().open(path, "rb")) as handle:
                codec = codec_of(name, handle.read(MAGIC_BYTES))
        if codec is None or (codec in _NATIVE and name.lower().endswith(_NATIVE[codec])):
            return path, name
        plain = _plain_name(name)
        target = os.path.join(access.scratch(), f"{len(access.paths):06d}-{plain}")
        with (open(path, "rb") if local else lake().open(path, "rb")) as raw, decompressing(raw, codec) as stream, \
                open(target, "wb") as out:
            shutil.copyfileobj(stream, out, 1024 * 1024)
    except (OSError, EOFError, ValueError, zlib.error, pa.ArrowException, CrispmlError) as exc:
        what = f"{codec}-compressed " if codec else ""
        raise QueryFailed(f"data file {file.uri} of table {table} cannot be read as {what}text: {exc}",
                          "InvalidArgument") from exc
    access.adopt(target, file.uri)
    return target, plain


def _plain_name(name: str) -> str:
    lower = name.lower()
    for ending in EXTENSIONS:
        if lower.endswith(ending):
            return name[:-len(ending)] or "data"
    return name
