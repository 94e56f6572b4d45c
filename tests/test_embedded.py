"""The embedded default as an operator runs it: `shiliu up` in its own process, killed and
started again."""

from __future__ import annotations

from pathlib import Path

from services.runtime.nats_server import is_port_free
from tests.conftest import eventually
from tests.support.stack import UpProcess


def test_up_starts_again_with_no_manual_step_after_the_previous_up_was_killed_with_sigkill(
    tmp_path: Path,
) -> None:
    stack = UpProcess(tmp_path / "data")
    try:
        stack.start()
        stack.wait_serving()
        assert len(stack.nats_server_pids()) == 1
        stack.kill()

        def nats_is_gone() -> bool:
            return not stack.nats_server_pids() and is_port_free("127.0.0.1", stack.ports["nats"])

        eventually(nats_is_gone, timeout=15)
        stack.start()
        stack.wait_serving()
        assert len(stack.nats_server_pids()) == 1
        assert stack.stop() == 0, stack.log_tail()
        assert not stack.nats_server_pids()
    finally:
        stack.close()
