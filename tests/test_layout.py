"""The code's shape holds: no service imports another; inside the tickets service the kernel
imports none of its peers and no peer imports another; the README's layout table names every
module of the tickets service, and nothing that is not there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ROOT / "services"
TICKETS = SERVICES / "tickets"
PEERS = ("wishes", "ticketing", "mediation")
COMPOSITION_ROOT = TICKETS / "main.py"


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module(path).rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1],
                                 *([base] if base else [])])  # fmt: skip
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def _sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _offences(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in sorted(_imports(path))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


@pytest.mark.parametrize("service", ["tickets", "ledger", "matching", "notify"])
def test_no_service_imports_another_only_events_and_the_runtime(service: str) -> None:
    others = tuple(
        f"services.{p.name}"
        for p in SERVICES.iterdir()
        if p.is_dir() and p.name not in {service, "runtime", "__pycache__"}
    )
    assert _offences(_sources(SERVICES / service), others) == []


def test_the_runtime_imports_no_service() -> None:
    services = tuple(
        f"services.{p.name}"
        for p in SERVICES.iterdir()
        if p.is_dir() and p.name not in {"runtime", "__pycache__"}
    )
    assert _offences(_sources(SERVICES / "runtime"), services) == []


def test_the_tickets_kernel_imports_none_of_its_peers() -> None:
    kernel = [p for p in sorted(TICKETS.glob("*.py")) if p != COMPOSITION_ROOT]
    assert _offences(kernel, tuple(f"services.tickets.{peer}" for peer in PEERS)) == []


@pytest.mark.parametrize("peer", PEERS)
def test_no_tickets_peer_imports_another(peer: str) -> None:
    others = tuple(f"services.tickets.{p}" for p in PEERS if p != peer)
    assert _offences(_sources(TICKETS / peer), others) == []


def _layout_rows() -> dict[str, str]:
    """The README's layout table: folder → the text of its row."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(services/[a-z_/]+/)` \| (.*) \|$", readme, flags=re.M)
    return dict(rows)


@pytest.mark.parametrize(
    "folder", ["services/tickets/", *(f"services/tickets/{p}/" for p in PEERS)]
)
def test_the_readme_layout_table_names_every_module_of_the_tickets_service(folder: str) -> None:
    row = _layout_rows()[folder]
    named = set(re.findall(r"`([a-z_0-9]+\.py)`", row))
    present = {p.name for p in (ROOT / folder).glob("*.py")} - {"__init__.py"}
    assert (sorted(present - named), sorted(named - present)) == ([], [])


LONGEST = 340
"""About 300 lines: a module longer than this says why in its docstring ("Longer than …")."""


def test_every_module_longer_than_about_300_lines_says_why_in_its_docstring() -> None:
    unexplained = []
    for folder in ("events", "services", "shiliu"):
        for path in _sources(ROOT / folder):
            text = path.read_text(encoding="utf-8")
            docstring = ast.get_docstring(ast.parse(text)) or ""
            if text.count("\n") > LONGEST and "Longer than" not in docstring:
                unexplained.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert unexplained == []
