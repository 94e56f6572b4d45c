"""Per-identity NATS users: their passwords, and the `authorization` block nats-server reads.

The embedded default writes bcrypt hashes into its generated config, so that file holds no
secret; the passwords themselves live in `<data_dir>/keys/`, readable by their owner only.
docker-compose's nats nodes read the passwords from the environment instead.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

import bcrypt
from pydantic import SecretStr

from events.access import BUS_USERS, BusUser
from services.runtime.settings import BusSettings

BCRYPT_ROUNDS = 11
"""What `nats server passwd` uses; each hash costs ~0.15 s here, checked once per connect."""
BCRYPT_MAX_BYTES = 72


class BusPasswordError(ValueError):
    """A bus password cannot be used (bcrypt reads at most 72 bytes)."""


def password_env(user: str) -> str:
    """The variable that overrides a user's password (docker-compose sets these)."""
    return f"SHILIU_NATS_{user.upper()}_PASSWORD"


def password_file(data_dir: Path, user: str) -> Path:
    return data_dir / "keys" / f"nats-{user}.pass"


def new_password() -> str:
    """Letters and digits, starting with a letter: nats-server's config parser reads a `$VAR`
    reference's value as a config value, so `12345` or `true` would not be a string."""
    return "n" + secrets.token_hex(24)


def read_password(data_dir: Path, user: str) -> str | None:
    """The user's password from the environment, else from the data folder, if either has one."""
    env = os.environ.get(password_env(user))
    if env:
        return env
    path = password_file(data_dir, user)
    return path.read_text(encoding="ascii").strip() if path.exists() else None


def stored_password(data_dir: Path, user: str) -> str:
    """The user's password; generated once into the data folder (mode 0600) if there is none."""
    existing = read_password(data_dir, user)
    if existing:
        return existing
    path = password_file(data_dir, user)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return path.read_text(encoding="ascii").strip()
    password = new_password()
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(password)
    return password


def stored_passwords(data_dir: Path) -> dict[str, str]:
    return {user.name: stored_password(data_dir, user.name) for user in BUS_USERS}


def bus_as(user: str, bus: BusSettings, passwords: Mapping[str, str]) -> BusSettings:
    """The same bus, reached as `user`."""
    return bus.model_copy(update={"user": user, "password": SecretStr(passwords[user])})


def authorization(password_value: Callable[[BusUser], str]) -> str:
    """nats-server's `authorization` block for every bus user; `password_value` renders each
    user's password as a config value (a quoted bcrypt hash, or a `$VARIABLE` reference)."""
    lines = ["authorization {", "  users = ["]
    for user in BUS_USERS:
        lines += [
            "    {",
            f"      user: {json.dumps(user.name)}",
            f"      password: {password_value(user)}",
            "      permissions {",
            *_allow("publish", user.publish_allow),
            *_allow("subscribe", user.subscribe_allow),
            *(["        allow_responses: true"] if user.allow_responses else []),
            "      }",
            "    }",
        ]
    return "\n".join([*lines, "  ]", "}", ""])


def _allow(direction: str, subjects: tuple[str, ...]) -> list[str]:
    quoted = [f"            {json.dumps(subject)}" for subject in subjects]
    return [f"        {direction} {{", "          allow: [", *quoted, "          ]", "        }"]


def hashed_authorization(passwords: Mapping[str, str]) -> str:
    """The block with each password bcrypt-hashed (nats-server recognises `$2b$…` values)."""
    return authorization(lambda user: json.dumps(_bcrypt(user.name, passwords[user.name])))


def environment_authorization() -> str:
    """The block with each password read from `SHILIU_NATS_<USER>_PASSWORD` by nats-server."""
    return authorization(lambda user: f"${password_env(user.name)}")


def _bcrypt(user: str, password: str) -> str:
    secret = password.encode()
    if len(secret) > BCRYPT_MAX_BYTES:
        msg = f"the {user} bus password must be at most {BCRYPT_MAX_BYTES} bytes"
        raise BusPasswordError(msg)
    return bcrypt.hashpw(secret, bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode()


def compose_config() -> str:
    """docker-compose's nats config, checked in as `deploy/nats/authorization.conf`."""
    return (
        "# docker-compose's bus users and what each may publish and subscribe; each password\n"
        "# comes from the nats node's environment. Generated from events/access.py by\n"
        "# `python -m services.runtime.nats_auth > deploy/nats/authorization.conf`.\n"
        f"{environment_authorization()}"
    )


if __name__ == "__main__":
    print(compose_config(), end="")
