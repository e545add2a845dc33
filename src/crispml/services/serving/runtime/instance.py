"""One endpoint instance: a model served over SageMaker's container contract.

``python -m crispml.services.serving.runtime.instance`` — started (:func:`start`)
by the serving supervisor, or by a batch transform job's worker, with the
model's folders and code in ``CRISPML_INSTANCE``
(JSON: ``image``, ``model_dir``, ``code_dir``, ``environment``) and its
listening socket as file descriptor ``CRISPML_INSTANCE_FD`` (its parent
binds it, so the port is known before the process starts and never raced).

It loads the model with the registry's inference runtime (a built-in
algorithm's handler, or a script's ``model_fn``/``input_fn``/``predict_fn``/
``output_fn``), then answers:

- ``GET /ping`` — 200 once the model is loaded (the socket is only served
  after that, so a ping that answers means ready);
- ``POST /invocations`` — the handler's answer with its content type; a body
  the handler cannot read (bad CSV or JSON, a wrong number of features) is
  400 with the handler's message, any other failure of the model 500 with
  the exception's type and message, as SageMaker's containers answer.

The ASGI application is written out rather than built on FastAPI: it has two
routes and sits on every request's path, where a framework's routing and
dependency layers cost more than the model on a one-row request. The process
exits when its parent (the supervisor, or the transform worker) dies, so a
killed parent leaves no instance behind.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

CONFIG_VARIABLE = "CRISPML_INSTANCE"
FD_VARIABLE = "CRISPML_INSTANCE_FD"
PARENT_VARIABLE = "CRISPML_INSTANCE_PARENT"
#: What ``python -m`` runs (``__name__`` is ``__main__`` there).
MODULE = "crispml.services.serving.runtime.instance"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return dict(scope["headers"])


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def answer(send: Send, status: int, body: bytes, content_type: bytes,
                 extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                            *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


async def lifespan(receive: Receive, send: Send, on_shutdown: Callable[[], Awaitable[None]] | None = None) -> None:
    """ASGI's lifespan protocol: nothing to start; ``on_shutdown`` awaited before the server stops."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if on_shutdown is not None:
                await on_shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


def last_words(log: Path, returncode: int | None) -> str:
    """Why an instance ended: its log's last 'crispml instance:' line, else its exit status and last lines."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    said = [line.split("crispml instance: ", 1)[1] for line in lines if "crispml instance: " in line]
    if said:
        return said[-1][:2000]
    tail = " | ".join([line for line in lines if line.strip()][-3:])[:1500]
    return f"it exited with status {returncode}" + (f": {tail}" if tail else "")


class InstanceApp:
    """The container contract over one loaded model."""

    def __init__(self, invoke: Callable[[bytes, str, str], tuple[bytes, str]]) -> None:
        self._invoke = invoke

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        path, method = scope["path"], scope["method"]
        if path == "/ping" and method == "GET":
            await answer(send, 200, b"", b"text/plain")
            return
        if path != "/invocations" or method != "POST":
            await answer(send, 404, b"not found: the container answers GET /ping and POST /invocations",
                         b"text/plain")
            return
        body = await read_body(receive)
        headers = _headers(scope)
        content_type = headers.get(b"content-type", b"text/csv").decode("latin-1")
        accept = headers.get(b"accept", b"*/*").decode("latin-1")
        try:
            output, output_type = self._invoke(body, content_type, accept)
        except Exception as exc:
            from crispml.core.errors import InvalidArgument

            if isinstance(exc, InvalidArgument):
                await answer(send, 400, str(exc).encode(), b"text/plain")
            else:
                trace = traceback.format_exception_only(type(exc), exc)[-1].strip()
                print(f"crispml instance: the model failed: {trace}", file=sys.stderr, flush=True)
                await answer(send, 500, trace.encode(), b"text/plain")
            return
        await answer(send, 200, output, output_type.encode("latin-1"))


def start(description: dict[str, Any], log: Path,
          environment: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """Start an instance of the model ``description`` names (``image``, ``model_dir``, ``code_dir``,
    ``environment``) as a child of this process, its output appended to ``log``, with ``environment`` added to
    its process environment; its process and port. The socket is bound here, so the port is known before the
    process starts and never raced; the process serves it once the model is loaded."""
    import socket

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    try:
        env = {**os.environ, **(environment or {}), CONFIG_VARIABLE: json.dumps(description),
               PARENT_VARIABLE: str(os.getpid()),
               FD_VARIABLE: str(listener.fileno())}
        with log.open("ab") as output:
            process = subprocess.Popen([sys.executable, "-m", MODULE], env=env, stdin=subprocess.DEVNULL,
                                       stdout=output, stderr=output, pass_fds=(listener.fileno(),))
        return process, listener.getsockname()[1]
    finally:
        listener.close()


def _exit_with_parent(parent: int) -> None:
    if os.getppid() == parent:  # started by it: it is gone once another process is this one's parent
        def watch() -> None:
            while True:
                if os.getppid() != parent:
                    os._exit(0)
                time.sleep(0.5)
    else:  # forked for it by the fork server (zygote.py), or it is already gone: its pidfd says when it ends
        try:
            handle = os.pidfd_open(parent)
        except ProcessLookupError:
            os._exit(0)

        def watch() -> None:
            select.select([handle], [], [])
            os._exit(0)
    threading.Thread(target=watch, name="crispml-instance-parent", daemon=True).start()


def main() -> int:
    import socket

    from crispml.services.registry.service import load_model

    # the pid of the process that started it, not whoever is its parent now: one that died before this line
    # ran has already left it to init
    _exit_with_parent(int(os.environ.get(PARENT_VARIABLE) or os.getppid()))
    config = json.loads(os.environ[CONFIG_VARIABLE])
    code_dir = Path(config["code_dir"]) if config.get("code_dir") else None
    try:
        model = load_model(config["image"], Path(config["model_dir"]), config.get("environment") or {}, code_dir)
    except Exception as exc:
        print(f"crispml instance: the model did not load: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 3
    from crispml.services.serving.runtime.server import serve

    serve(InstanceApp(model.invoke), socket.socket(fileno=int(os.environ[FD_VARIABLE])))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--zygote"]:  # the runtime's fork server for instances (zygote.py)
        from crispml.services.serving.runtime.zygote import serve as serve_forks

        serve_forks(int(sys.argv[2]))
    sys.exit(main())
