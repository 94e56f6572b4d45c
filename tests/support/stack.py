"""`shiliu up` as a real process on free ports with its own data folder, to kill and restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from services.runtime.nats_server import free_port

SHILIU = Path(sys.executable).parent / "shiliu"
SERVICES = ("tickets", "ledger", "matching", "notify")


def answers_health(url: str) -> bool:
    """Whether the service at `url` answers its liveness check now."""
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class UpProcess:
    """One `shiliu up --data-dir DIR`; each `start` runs a fresh process on the same ports."""

    def __init__(self, data_dir: Path, *, demo: bool = False) -> None:
        self.data_dir = data_dir
        self.demo = demo
        self.ports = {name: free_port() for name in ("nats", *SERVICES)}
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, **{f"SHILIU_{n.upper()}_PORT": str(p) for n, p in self.ports.items()}}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [str(SHILIU), "up", "--data-dir", str(self.data_dir)]
        log = (self.data_dir / "up.log").open("ab")
        self.process = subprocess.Popen(
            [*command, "--demo" if self.demo else "--no-demo"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        return self.process

    def log_tail(self) -> str:
        return (self.data_dir / "up.log").read_text(errors="replace")[-3000:]

    def is_serving(self) -> bool:
        try:
            return all(
                httpx.get(f"{self.url(name)}/health", timeout=2).status_code == 200
                for name in ("tickets", "ledger")
            )
        except httpx.HTTPError:
            return False

    def wait_until(self, check: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
        """Poll `check` while the process runs; fail with its log after `timeout`."""
        deadline = time.monotonic() + timeout
        while not check():
            assert self.process is not None
            assert self.process.poll() is None, f"shiliu up exited early:\n{self.log_tail()}"
            assert time.monotonic() < deadline, f"{what} not within {timeout}s:\n{self.log_tail()}"
            time.sleep(0.1)

    def wait_serving(self, timeout: float = 120.0) -> None:
        self.wait_until(self.is_serving, "serving", timeout)

    def is_seeded(self) -> bool:
        """The demo seeding finished (`up` marks it so, and seeds again until it has)."""
        return (self.data_dir / ".demo-seeded").exists()

    def nats_server_pids(self) -> list[int]:
        """nats-servers running on this data folder's config, found by command line."""
        config = str(self.data_dir / "nats" / "nats-server.conf").encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    argv = (entry / "cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if config in argv:
                    pids.append(int(entry.name))
        return pids

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no handler, no cleanup."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> int | None:
        """Ctrl-C and wait; the exit code, or None if it had to be killed."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.process.returncode

    def close(self) -> None:
        """Stop it and any nats-server it left behind, whatever the test saw."""
        if self.process is not None:
            self.stop()
        for pid in self.nats_server_pids():
            os.kill(pid, signal.SIGKILL)
