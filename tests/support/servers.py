"""Serving an ASGI app for real (uvicorn on a loopback port) from a test."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from services.runtime.nats_server import free_port


@contextlib.contextmanager
def serving(app: FastAPI, port: int | None = None) -> Iterator[str]:
    """Run `app` with uvicorn in a thread (on `port`, or a free one); yield its base URL; stop
    it afterwards."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            msg = "uvicorn did not start"
            raise RuntimeError(msg)
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
