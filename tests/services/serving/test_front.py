"""The runtime front against real instance sockets: a dropped connection is sent again, on the variant's only
instance too, and an instance is reported broken only when it cannot answer."""

from __future__ import annotations

import asyncio
from typing import Any

from crispml.services.serving.runtime.front import Backend, Front, Hooks, Route, VariantRoute
from crispml.services.serving.runtime.upstream import Upstream


class Instance:
    """An instance on a real loopback socket that answers each request with its own name and body, after
    closing the first ``drops`` connections on which a request arrives without answering."""

    def __init__(self, name: str, drops: int = 0, *, close_after_answer: bool = False) -> None:
        self.name, self.drops = name, drops
        self.close_after_answer = close_after_answer  # as an instance closing an idle kept connection does
        self.received = 0
        self.answered = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                body = await reader.readexactly(length)
                self.received += 1
                if self.drops > 0:
                    self.drops -= 1
                    return
                self.answered += 1
                reply = self.name.encode() + b":" + body
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/csv\r\ncontent-length: "
                             + str(len(reply)).encode() + b"\r\n\r\n" + reply)
                await writer.drain()
                if self.close_after_answer:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    def stop(self) -> None:
        assert self.server is not None
        self.server.close()


class Recorded(Hooks):
    def __init__(self) -> None:
        self.broken_reports: list[tuple[str, str]] = []

    def broken(self, backend: Backend, error: str) -> None:
        self.broken_reports.append((backend.instance_id, error))


async def _invoke(front: Front, body: bytes) -> tuple[int, bytes, dict[bytes, bytes]]:
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await front({"type": "http", "path": "/endpoints/sturdy/invocations", "method": "POST",
                 "headers": [(b"content-type", b"text/csv")]}, receive, send)
    assert delivered
    start = next(m for m in sent if m["type"] == "http.response.start")
    return (start["status"], b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"),
            dict(start["headers"]))


def _front(backends: list[Backend]) -> tuple[Front, Recorded]:
    hooks = Recorded()
    route = Route("sturdy", [VariantRoute("main", 1.0, backends)])
    return Front(hooks, lambda: {"sturdy": route}), hooks


def test_the_only_instance_that_drops_a_connection_is_asked_again_and_not_reported_broken() -> None:
    async def scenario() -> None:
        instance = Instance("only", drops=1)
        backend = Backend("i-only", "main", Upstream(await instance.start()))
        front, hooks = _front([backend])
        try:
            status, body, _ = await _invoke(front, b"1,2,3")
            assert (status, body) == (200, b"only:1,2,3")
            assert not backend.broken and hooks.broken_reports == []
            # dropping every connection is what a crashing instance does: reported, and the variant has none left
            instance.drops = 10
            status, body, _ = await _invoke(front, b"4")
            assert status == 503 and b"no instance in service" in body
            assert backend.broken
            assert [i for i, _ in hooks.broken_reports] == ["i-only"]
            assert "closed the connection" in hooks.broken_reports[0][1]
            assert instance.answered == 1
        finally:
            backend.upstream.close()
            instance.stop()

    asyncio.run(scenario())


def test_a_dead_only_instance_is_reported_with_the_error_and_the_caller_gets_503() -> None:
    async def scenario() -> None:
        gone = Instance("gone")
        port = await gone.start()
        gone.stop()
        await gone.server.wait_closed() if gone.server else None
        backend = Backend("i-gone", "main", Upstream(port))
        front, hooks = _front([backend])
        status, _, _ = await _invoke(front, b"1")
        assert status == 503
        assert backend.broken
        assert hooks.broken_reports and hooks.broken_reports[0][0] == "i-gone"
        assert f"cannot connect to 127.0.0.1:{port}" in hooks.broken_reports[0][1]

    asyncio.run(scenario())


def test_a_request_dropped_by_one_of_two_instances_is_answered_by_the_other_and_the_dropper_reported() -> None:
    async def scenario() -> None:
        dropper, steady = Instance("dropper", drops=1), Instance("steady")
        first = Backend("i-dropper", "main", Upstream(await dropper.start()))
        second = Backend("i-steady", "main", Upstream(await steady.start()))
        second.in_flight = 1  # the front picks the least busy: the dropper first
        front, hooks = _front([first, second])
        try:
            status, body, headers = await _invoke(front, b"7")
            assert (status, body) == (200, b"steady:7")
            assert headers[b"x-amzn-invoked-production-variant"] == b"main"
            assert first.broken and not second.broken
            assert [i for i, _ in hooks.broken_reports] == ["i-dropper"]
            assert dropper.answered == 0 and steady.answered == 1
        finally:
            for backend in (first, second):
                backend.upstream.close()
            dropper.stop()
            steady.stop()

    asyncio.run(scenario())


def test_a_kept_connection_the_instance_closed_while_idle_is_left_unused_and_each_request_is_sent_once() -> None:
    async def scenario() -> None:
        instance = Instance("closer", close_after_answer=True)
        backend = Backend("i-closer", "main", Upstream(await instance.start()))
        front, hooks = _front([backend])
        try:
            for body in (b"1", b"2", b"3"):
                status, answer_body, _ = await _invoke(front, body)
                assert (status, answer_body) == (200, b"closer:" + body)
                await asyncio.sleep(0.05)  # the instance's close reaches the front's kept connection
            assert instance.received == 3  # never sent on a closed connection, never sent twice
            assert not backend.broken and hooks.broken_reports == []
        finally:
            backend.upstream.close()
            instance.stop()

    asyncio.run(scenario())
