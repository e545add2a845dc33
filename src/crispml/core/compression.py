"""Compressed text files in the lake: which codec a file uses, and its bytes decompressed.

Firehose, Glue and Hive write CSV and JSON lines compressed; crawlers and
queries must read them as text. A file's codec is known from its name's
extension (``.gz``, ``.bz2``, ``.zst``, ``.snappy`` …) or, when the name says
nothing (Firehose's ``FileExtension`` is free), from its first bytes. gzip and
bzip2 are the standard library's, zstd is pyarrow's stream codec. Snappy has
no stream reader in any installed library: the two layouts in use are read by
hand here over pyarrow's raw block codec — the framing format
(``sNaPpY`` stream identifier, what Firehose writes) and Hadoop's block
stream (what Hive and Spark write as ``.snappy``); their CRCs are not checked.

Deliberately not here: Parquet (its compression is inside the file) and
writing compressed files.
"""

from __future__ import annotations

import bz2
import gzip
import io
from typing import IO, Any, Literal

from crispml.core.errors import InvalidArgument

Codec = Literal["gzip", "bzip2", "zstd", "snappy"]

#: File name endings → codec.
EXTENSIONS: dict[str, Codec] = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bzip2", ".zst": "zstd",
                                ".zstd": "zstd", ".snappy": "snappy", ".sz": "snappy"}
_SNAPPY_FRAMED = b"\xff\x06\x00\x00sNaPpY"
#: Leading bytes → codec.
MAGIC: tuple[tuple[bytes, Codec], ...] = (
    (b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\x28\xb5\x2f\xfd", "zstd"), (_SNAPPY_FRAMED, "snappy"))
#: Bytes to read from a file's start to know its codec.
MAGIC_BYTES = 10


def codec_by_name(name: str) -> Codec | None:
    """The codec a file name's extension says, or None."""
    lower = name.lower()
    return next((codec for ending, codec in EXTENSIONS.items() if lower.endswith(ending)), None)


def codec_of(name: str, head: bytes) -> Codec | None:
    """The codec of a file, by its name's extension, else by its first bytes (``head``); None if plain."""
    by_name = codec_by_name(name)
    if by_name is not None:
        return by_name
    if head.startswith(b"BZh") and not head[3:4].isdigit():
        return None  # text starting 'BZh…', not a bzip2 header (BZh + block size digit)
    return next((codec for magic, codec in MAGIC if head.startswith(magic)), None)


def decompressing(raw: IO[bytes], codec: Codec) -> Any:
    """A binary reader (a context manager with ``read``) of ``raw``'s bytes decompressed (snappy: read
    whole, then decompressed)."""
    if codec == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if codec == "bzip2":
        return bz2.BZ2File(raw, mode="rb")
    if codec == "zstd":
        import pyarrow as pa

        return pa.CompressedInputStream(pa.PythonFile(raw, mode="r"), "zstd")
    return io.BytesIO(snappy_decompress(raw.read()))


def snappy_decompress(data: bytes) -> bytes:
    """A snappy file's content: the framing format, else Hadoop's block stream."""
    import pyarrow as pa

    codec = pa.Codec("snappy")

    def block(raw: bytes) -> bytes:
        return bytes(codec.decompress(raw, decompressed_size=_varint(raw), asbytes=True))

    try:
        return _framed(data, block) if data.startswith(_SNAPPY_FRAMED) else _hadoop(data, block)
    except (pa.ArrowException, IndexError, ValueError) as exc:
        raise InvalidArgument(f"not a snappy stream (framing or Hadoop format): {exc}") from exc


def _varint(raw: bytes) -> int:
    """The uncompressed length a raw snappy block starts with."""
    value = shift = 0
    for byte in raw[:5]:
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value
        shift += 7
    raise ValueError("bad snappy block length")


def _framed(data: bytes, block: Any) -> bytes:
    out, at = bytearray(), 0
    while at < len(data):
        kind, length = data[at], int.from_bytes(data[at + 1:at + 4], "little")
        body = data[at + 4:at + 4 + length]
        if len(body) < length:
            raise ValueError("truncated chunk")
        if kind == 0x00:
            out += block(body[4:])  # after the CRC
        elif kind == 0x01:
            out += body[4:]
        elif kind < 0x80:  # reserved unskippable chunk types (0xff identifier, 0x80–0xfe skippable)
            raise ValueError(f"unknown chunk type {kind:#x}")
        at += 4 + length
    return bytes(out)


def _hadoop(data: bytes, block: Any) -> bytes:
    out, at = bytearray(), 0
    while at < len(data):
        expected = int.from_bytes(data[at:at + 4], "big")
        at += 4
        produced = 0
        while produced < expected:
            length = int.from_bytes(data[at:at + 4], "big")
            chunk = data[at + 4:at + 4 + length]
            if len(chunk) < length or not length:
                raise ValueError("truncated block")
            decoded = block(chunk)
            out += decoded
            produced += len(decoded)
            at += 4 + length
    return bytes(out)
