"""What ships is what is tested: the wheel the Dockerfile installs, run as docker-compose runs it.

The wheel is built from exactly what the Dockerfile copies (with the pinned build backend of
this environment, offline), installed into a fresh virtualenv (its dependencies come from this
environment's site-packages, so nothing is downloaded), and
each service is started from that virtualenv with the environment docker-compose.yml gives its
container. Only the containers around them are stood in for: PostgreSQL on 127.0.0.1:5432 (a
fresh schema), a real nats-server with the compose file's bus users, and host files where the
compose file mounts them.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import sysconfig
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from events.access import BUS_USERS
from events.envelope import Role
from services.runtime.identity import Claims, Scope, issue_token
from services.runtime.nats_auth import password_env
from services.runtime.nats_server import EmbeddedNats, free_port
from tests.conftest import PG, demo_territory, eventually
from tests.test_compose import _REFERENCE, CONTAINERS, ROOT, _command, _environment
from tests.tickets.ticketing.ticket_helpers import request

_SHIPPED_DIRS = ("events", "services", "shiliu")


def _dockerfile_copies() -> list[str]:
    """The sources of the Dockerfile's COPY lines: what the image's `pip install .` sees."""
    sources: list[str] = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            sources += line.split()[1:-1]
    return sources


def _copy_build_context(target: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
    target.mkdir(parents=True)
    for source in _dockerfile_copies():
        path = ROOT / source
        if path.is_dir():
            shutil.copytree(path, target / source, ignore=ignore)
        else:
            shutil.copy2(path, target / source)
    return target


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    context = _copy_build_context(work / "context")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--wheel-dir", str(work / "dist"), str(context)],
        check=True, timeout=240,
    )  # fmt: skip
    [built] = (work / "dist").glob("shiliu-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed; dependencies via a .pth to ours."""
    target = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
    python = target / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # A plain path line: our site-packages' own .pth files (the editable install of this
    # checkout among them) are not run, so `services` can only come from the wheel.
    (Path(purelib) / "shiliu-test-dependencies.pth").write_text(
        sysconfig.get_path("purelib") + "\n"
    )
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True, timeout=120,
    )  # fmt: skip
    return target


def test_the_wheel_holds_every_file_the_services_load_besides_their_code(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    tracked = subprocess.run(
        ["git", "ls-files", *_SHIPPED_DIRS], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    data = [path for path in tracked if not path.endswith(".py")]
    assert "services/tickets/rules/default.json" in data
    assert [path for path in data if path not in shipped] == []


def test_the_installed_wheel_runs_its_own_code_not_this_checkout(venv: Path) -> None:
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import services.tickets.routing as r; print(r.__file__); print(r.DEFAULT_RULES)"],
        cwd=venv, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    assert all(Path(path).is_relative_to(venv) for path in found), found
    assert Path(found[1]).is_file()


# The containers around the services, stood in for


def _free_schema() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def _nats_as_in_compose(store: Path, passwords: dict[str, str]) -> Iterator[EmbeddedNats]:
    """A nats-server admitting the compose file's bus users (its mounted config), with the
    passwords in its environment as the compose file gives the nats nodes."""
    [config] = [v.split(":")[0] for v in CONTAINERS["nats-1"]["volumes"] if "authorization" in v]
    server = EmbeddedNats(
        store, port=free_port(), authorization=(ROOT / config).read_text(encoding="utf-8")
    )
    saved = {name: os.environ.get(name) for name in passwords}
    os.environ.update(passwords)
    try:
        server.start()
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.update({name: value})
    try:
        yield server
    finally:
        server.stop()


def _filled(value: str, operator_env: dict[str, str]) -> str:
    """A compose value with each `${NAME…}` filled as `docker compose` would, from the
    operator's environment (a reference nobody set fails, as compose refuses it)."""
    return _REFERENCE.sub(lambda m: operator_env[m.group(1)], value)


def _mounts(container: dict[str, Any], operator_env: dict[str, str]) -> dict[str, str]:
    """Container path → host path of each file the compose file mounts."""
    mounts = {}
    for volume in container.get("volumes", []):
        host, inside, *_ = _filled(volume, operator_env).split(":")
        mounts[inside] = host
    return mounts


def _container_env(
    name: str, operator_env: dict[str, str], stand_ins: dict[str, str]
) -> dict[str, str]:
    """Exactly the container's environment, its mounts pointing at the host files, and the
    addresses of the stand-ins instead of the compose network's."""
    container = CONTAINERS[name]
    env = {k: _filled(v, operator_env) for k, v in _environment(container).items()}
    for inside, host in _mounts(container, operator_env).items():
        env = {k: v.replace(inside, host) for k, v in env.items()}
    prefix = f"SHILIU_{name.upper()}_"
    expected_compose = {"HOST": "0.0.0.0", "STORE__PG_HOST": "postgres", "STORE__KIND": "postgres"}
    for key, value in expected_compose.items():
        assert env[prefix + key] == value, (name, key)
    assert "nats-1" in env[prefix + "BUS__URL"]
    return {**env, **{prefix + key: value for key, value in stand_ins.items()}}


@contextlib.contextmanager
def _serving(venv: Path, name: str, env: dict[str, str], workdir: Path) -> Iterator[str]:
    """`shiliu serve <name>` from the virtualenv, as the container's command runs it."""
    command = [str(venv / "bin" / "shiliu"), *_command(CONTAINERS[name])]
    port = env[f"SHILIU_{name.upper()}_PORT"]
    log = (workdir / f"{name}.log").open("wb")
    base = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(workdir), "LANG": "C.UTF-8"}
    process = subprocess.Popen(
        command, env={**base, **env}, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            assert process.poll() is None, (workdir / f"{name}.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{url}/health", timeout=2).status_code == 200
            return False

        eventually(healthy, timeout=60, interval=0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _provision(venv: Path, nats_url: str, operator_env: dict[str, str], workdir: Path) -> None:
    """The compose file's one-shot `provision`, on the one-node stand-in (one replica)."""
    command = _command(CONTAINERS["provision"])
    command[command.index("--nats-url") + 1] = nats_url
    command[command.index("--replicas") + 1] = "1"
    env = {k: _filled(v, operator_env) for k, v in _environment(CONTAINERS["provision"]).items()}
    subprocess.run(
        [str(venv / "bin" / "shiliu"), *command], env={"PATH": "/usr/bin:/bin", **env},
        cwd=workdir, check=True, timeout=60, capture_output=True,
    )  # fmt: skip


def _bearer(signing_key: Path, role: Role, scope: Scope, **claims: str) -> dict[str, str]:
    token = issue_token(
        signing_key.read_bytes(), Claims(sub=f"{role.value}-1", role=role, scope=scope, **claims)
    )
    return {"Authorization": f"Bearer {token}"}


def _drop(*schemas: str) -> None:
    with psycopg.connect(**PG, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.postgres
def test_the_wheel_serves_tickets_and_ledger_with_the_compose_environment_end_to_end(
    venv: Path, tmp_path: Path, pg_schema: str
) -> None:
    passwords = {password_env(u.name): "n" + secrets.token_hex(12) for u in BUS_USERS}
    subprocess.run(
        [str(venv / "bin" / "shiliu"), "jwks", "--data-dir", str(tmp_path / "issuer")],
        check=True, stdout=(tmp_path / "jwks.json").open("wb"), timeout=60,
    )  # fmt: skip
    operator_env = {
        **passwords,
        "POSTGRES_PASSWORD": "unused-with-trust-auth",
        "SHILIU_TICKETS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "SHILIU_JWKS_FILE": str(tmp_path / "jwks.json"),
        "SHILIU_TERRITORY_FILE": str(demo_territory()),
    }
    schemas = {"tickets": pg_schema, "ledger": _free_schema()}
    signing_key = tmp_path / "issuer" / "keys" / "auth-signing.pem"
    try:
        with _nats_as_in_compose(tmp_path / "nats", passwords) as nats:
            _provision(venv, nats.url, operator_env, tmp_path)
            urls = {}
            with contextlib.ExitStack() as running:
                for name in ("tickets", "ledger"):
                    stand_ins = {"HOST": "127.0.0.1", "PORT": str(free_port()),
                                 "BUS__URL": nats.url, "STORE__PG_HOST": "127.0.0.1",
                                 "STORE__PG_DBNAME": PG["dbname"], "STORE__PG_USER": PG["user"],
                                 "STORE__PG_SCHEMA": schemas[name]}  # fmt: skip
                    env = _container_env(name, operator_env, stand_ins)
                    urls[name] = running.enter_context(_serving(venv, name, env, tmp_path))

                resident = _bearer(
                    signing_key, Role.RESIDENT,
                    Scope(district="jinfeng", street="s01", community="c01"), person="person-1",
                )  # fmt: skip
                posted = httpx.post(f"{urls['tickets']}/tickets", json=request(), headers=resident)
                assert posted.status_code == 201, posted.text

                official = _bearer(signing_key, Role.DISTRICT_OFFICIAL, Scope(district="jinfeng"))
                ledger = f"{urls['ledger']}/ledger/jinfeng/c01/tickets"

                def in_the_ledger() -> bool:
                    # 404 until the ledger has heard of anything in c01
                    answer = httpx.get(ledger, headers=official)
                    return answer.status_code == 200 and answer.json()["tickets"] == 1

                eventually(in_the_ledger, timeout=30)
    finally:
        _drop(schemas["ledger"])
