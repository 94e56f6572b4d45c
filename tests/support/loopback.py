"""The test suite talks to nothing beyond this machine: connections leave only to loopback.

Installed for every test by `tests/conftest.py`; a connection elsewhere fails at once with
`BeyondLoopbackError` instead of reaching (or waiting for) the network. Child processes the
tests start (nats-server, pip with `--no-index`, chromium) are kept local by their arguments.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex


class BeyondLoopbackError(ConnectionRefusedError):
    """A test tried to connect past loopback."""


def _check(sock: socket.SocketType, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = str(address[0])
    try:
        local = ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        local = host == "localhost"
    if not local:
        msg = f"tests make no network calls beyond loopback (tried {host})"
        raise BeyondLoopbackError(msg)


def _connect(self: socket.SocketType, address: Any) -> None:
    _check(self, address)
    _original_connect(self, address)


def _connect_ex(self: socket.SocketType, address: Any) -> int:
    _check(self, address)
    return _original_connect_ex(self, address)


@contextmanager
def only_loopback() -> Iterator[None]:
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect = _original_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = _original_connect_ex  # type: ignore[method-assign]
