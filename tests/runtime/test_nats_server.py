"""The embedded nats-server never outlives its owner's store: a server an earlier start left
running is stopped at the next start, and nothing else is."""

from __future__ import annotations

import subprocess
from pathlib import Path

from services.runtime.nats_server import EmbeddedNats, free_port, is_port_free


def test_a_start_stops_the_nats_server_an_earlier_start_left_running_on_the_same_store(
    tmp_path: Path,
) -> None:
    port = free_port()
    earlier = EmbeddedNats(tmp_path / "nats", port=port)
    earlier.start()
    assert earlier._process is not None
    orphan = earlier._process
    later = EmbeddedNats(tmp_path / "nats", port=port)
    try:
        later.start()
        assert orphan.wait(timeout=5) is not None
        assert later.pid_file.read_text(encoding="ascii").strip() != str(orphan.pid)
        assert not is_port_free("127.0.0.1", port)
    finally:
        later.stop()
        orphan.kill()
        orphan.wait()
    assert not later.pid_file.exists()


def test_a_stale_pidfile_naming_another_program_leaves_that_program_running(
    tmp_path: Path,
) -> None:
    bystander = subprocess.Popen(["sleep", "60"])
    server = EmbeddedNats(tmp_path / "nats", port=free_port())
    server.store_dir.mkdir(parents=True)
    server.pid_file.write_text(f"{bystander.pid}\n", encoding="ascii")
    try:
        server.start()
        assert bystander.poll() is None
    finally:
        server.stop()
        bystander.kill()
        bystander.wait()
