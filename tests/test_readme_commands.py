"""The README's two commands, run as written in a fresh clone of this repository."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from events.envelope import Role
from services.runtime.identity import Claims, issue_token
from services.runtime.nats_server import free_port

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- readme:commands:start -->")[1].split("<!-- readme:commands:end -->")[0]
    lines = re.findall(r"^(\./\S+(?: \S+)*?)\s+#", block, flags=re.MULTILINE)
    return [line.strip() for line in lines]


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("clone") / "shiliu"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    return target


def test_the_readme_names_exactly_two_commands_up_and_test() -> None:
    assert readme_commands() == ["./run up", "./run test"]


def _wait_for(url: str, process: subprocess.Popen[bytes], timeout: float) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "./run up exited early"
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {timeout}s")


def test_the_up_command_starts_shiliu_with_the_demo_district_in_a_fresh_clone(
    clone: Path,
) -> None:
    ports = {name: str(free_port()) for name in ("NATS", "TICKETS", "LEDGER", "MATCHING", "NOTIFY")}
    env = {**os.environ, **{f"SHILIU_{name}_PORT": port for name, port in ports.items()}}
    command = readme_commands()[0].split()
    log = (clone / "up.log").open("wb")
    # its own process group, so the interrupt reaches whatever runs (pip while it installs,
    # then the services), as Ctrl-C in a terminal does
    process = subprocess.Popen(
        command, cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        tickets = f"http://127.0.0.1:{ports['TICKETS']}"
        ledger = f"http://127.0.0.1:{ports['LEDGER']}"
        _wait_for(f"{ledger}/health", process, timeout=600)

        key = (clone / "data" / "keys" / "auth-signing.pem").read_bytes()
        official = Claims(
            sub="official-1", role=Role.DISTRICT_OFFICIAL, scope={"district": "jinfeng"}
        )
        headers = {"Authorization": f"Bearer {issue_token(key, official)}"}

        def seeded() -> bool:
            figures = httpx.get(
                f"{ledger}/ledger/jinfeng/wishes", headers=headers, timeout=5
            ).json()
            return len(figures) == 68

        deadline = time.monotonic() + 120
        while not seeded():
            assert time.monotonic() < deadline, "the demo district never reached the ledger"
            time.sleep(1)
        with httpx.Client(base_url=tickets, follow_redirects=True, timeout=10) as browser:
            signin = browser.get("/board/jinfeng/c01")
            assert signin.url.path == "/signin"
            board = browser.post(
                "/signin", data={"account": "staff-c01", "next": "/board/jinfeng/c01"}
            )
            assert board.status_code == 200
            assert "微心愿" in board.text
            matching = f"http://127.0.0.1:{ports['MATCHING']}"
            browser.cookies.clear()
            wall = browser.get(f"{matching}/wall/jinfeng/c01")  # via the tickets sign-in
            assert wall.url.path == "/signin"
            wall = browser.post(f"{tickets}/signin", data={
                "account": "staff-c01", "next": wall.url.params["next"],
            })  # fmt: skip
            assert (wall.status_code, wall.url.path) == (200, "/wall/jinfeng/c01"), wall.text[:500]
            assert wall.text.count('class="card listing"') > 100
            units = [httpx.get(f"{matching}/units", headers=headers, timeout=5, params={
                "district": "jinfeng", "community": "c01", "limit": 100, "offset": offset,
            }).json() for offset in (0, 100, 200)]  # fmt: skip
            assert sum(len(page) for page in units) >= 200

            def matched() -> bool:
                found = httpx.get(f"{matching}/matches", headers=headers, timeout=5,
                                  params={"district": "jinfeng", "community": "c01"})  # fmt: skip
                return bool(found.json())

            deadline = time.monotonic() + 60
            while not matched():
                assert time.monotonic() < deadline, "the demo wishes were not matched"
                time.sleep(1)
        assert (clone / "data" / "tickets.sqlite").exists()
    finally:
        stopped = _interrupt(process)
    tail = (clone / "up.log").read_text(errors="replace")[-3000:]
    assert stopped, f"./run up did not stop within 30 s of SIGINT\n{tail}"
    assert process.returncode == 0, tail


def _interrupt(process: subprocess.Popen[bytes]) -> bool:
    """Ctrl-C to the command's process group; False (and killed) when it did not stop in time.
    Never raises, so a failure that brought the test here is the one reported."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return False
    return True


def test_the_test_command_runs_in_a_fresh_clone(clone: Path) -> None:
    """The full suite would recurse into this test; one fast file proves the command works."""
    command = [*readme_commands()[1].split(), "tests/tickets/wishes/test_wish.py", "-q"]
    result = subprocess.run(command, cwd=clone, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"\b\d+ passed\b", result.stdout)
