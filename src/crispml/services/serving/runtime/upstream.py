"""The front's way to an instance: HTTP/1.1 over kept-alive loopback connections.

Written by hand because this hop is on every request's path and the peer is
always our own instance (``instance.py``), which answers every request with
a ``Content-Length``: sending a request and reading one such answer is a few
lines over asyncio streams, where a general client (httpx) spends several
times the instance's own time per one-row request on its request and response
models. Anything else from the peer — a dropped connection, a malformed
answer — is an :class:`UpstreamError`, and the connection is not reused.
A kept connection the instance closed while it was idle is seen closed
before it is used, and left; so one call sends the request once, and the
caller (the front) decides whether to send it again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


class UpstreamError(Exception):
    """The instance did not answer (refused, reset, closed, or an answer that is not HTTP)."""


@dataclass
class Reply:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


@dataclass
class Upstream:
    """Kept-alive connections to one instance at ``127.0.0.1:port``."""

    port: int
    host: str = "127.0.0.1"
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(default_factory=list)

    async def request(self, method: bytes, path: bytes, headers: list[tuple[bytes, bytes]], body: bytes = b"",
                      timeout: float = 300.0) -> Reply:
        """One request and its answer; a connection from the idle list, or a new one."""
        head = b"".join([method, b" ", path, b" HTTP/1.1\r\nhost: instance\r\ncontent-length: ",
                         str(len(body)).encode(), b"\r\n", *(k + b": " + v + b"\r\n" for k, v in headers), b"\r\n"])
        while self.idle:
            reader, writer = self.idle.pop()
            if reader.at_eof() or writer.is_closing():  # the instance closed it while it was idle: never sent on
                writer.close()
                continue
            return await self._on(reader, writer, head, body, timeout, "a kept connection")
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 5.0)
        except (OSError, TimeoutError) as exc:
            raise UpstreamError(f"cannot connect to 127.0.0.1:{self.port}: {exc}") from exc
        return await self._on(reader, writer, head, body, timeout, "the connection")

    async def _on(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes,
                  timeout: float, which: str) -> Reply:
        """The exchange on one connection; any failure an :class:`UpstreamError`, the connection closed."""
        try:
            async with asyncio.timeout(timeout):  # not wait_for: that wraps each exchange in a task of its own
                return await self._exchange(reader, writer, head, body)
        except UpstreamError:
            writer.close()
            raise
        except (OSError, asyncio.IncompleteReadError) as exc:
            writer.close()
            raise UpstreamError(f"the instance at 127.0.0.1:{self.port} closed {which}: {exc}") from exc
        except asyncio.LimitOverrunError as exc:  # a head over the stream's 64 KiB: not an answer of ours
            writer.close()
            raise UpstreamError(f"not an HTTP answer: a head over {exc.consumed:,} bytes") from exc
        except TimeoutError as exc:
            writer.close()
            raise UpstreamError(f"the instance at 127.0.0.1:{self.port} did not answer within {timeout:.0f} s") \
                from exc

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes,
                        body: bytes) -> Reply:
        writer.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            writer.write(body)
        await writer.drain()
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw[:-4].split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise UpstreamError(f"not an HTTP answer: {lines[0][:80]!r}")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if b"content-length" in headers:
            payload = await reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            payload = await _chunked(reader)
        else:
            raise UpstreamError("an answer with neither Content-Length nor chunked encoding")
        if headers.get(b"connection", b"").lower() == b"close":
            writer.close()
        else:
            self.idle.append((reader, writer))
        return Reply(int(parts[1]), headers, payload)

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)
