"""The import directions of docs/design.md: dispatch is pure; providers speak only HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "dispatch": {"service", "providers", "seed", "fastapi", "sqlmodel", "sqlalchemy", "httpx", "apscheduler"},
    "providers": {"service", "dispatch", "seed", "sqlmodel", "sqlalchemy", "fastapi"},
}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_it_may(package):
    offenders = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_roots(path) & FORBIDDEN[package]
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_the_checker_sees_imports(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("import service.db\nfrom sqlalchemy import select\nfrom . import sibling\n")
    assert imported_roots(sample) == {"service", "sqlalchemy"}


# The transaction rule (docs/design.md § Transactions): services never commit. A request's transaction is
# committed by its session dependency, a job's units of work by `unit` (service/transactions.py), the
# command line and the migrations commit their own. Nowhere else may `.commit()` be called.
COMMITTERS = {"service/deps.py", "service/transactions.py"}


def commit_calls(path: Path) -> list[int]:
    """The lines of `<anything>.commit(...)` calls in a module."""
    return [node.lineno for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "commit"]


def may_commit(relative: str) -> bool:
    parts = Path(relative).parts
    return (relative in COMMITTERS or "migrations" in parts
            or any(part == "cli" or part.startswith("cli_") or part == "cli.py" for part in parts))


def test_only_the_transaction_owners_commit():
    offenders = {}
    for path in sorted((ROOT / "service").rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        if not may_commit(relative) and (lines := commit_calls(path)):
            offenders[relative] = lines
    assert offenders == {}


def test_the_checker_sees_commits(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("async def f(session, plan):\n    await session.commit()\n    plan.committed()\n"
                      "    await (await session.connection()).commit()\n")
    assert commit_calls(sample) == [2, 4]
    assert may_commit("service/deps.py") and may_commit("service/cli_tokens.py")
    assert may_commit("service/migrations/env.py") and not may_commit("service/dispatching/faults.py")


# The lifecycle (service/lifecycle/) sits below the domains that move requests: it imports shared modules
# and two tables, never a domain's services (the old cycle dispatching/offers.py ↔ requests/service.py).
LIFECYCLE_MAY_IMPORT = {"service.lifecycle", "service.catalogue", "service.db", "service.errors",
                        "service.settings", "service.audit", "service.bulk", "service.providers.models",
                        "service.visits.models"}


def test_the_lifecycle_imports_no_domain_service():
    offenders = {}
    for path in sorted((ROOT / "service" / "lifecycle").rglob("*.py")):
        modules = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module)
            elif isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
        bad = {m for m in modules if m.split(".")[0] == "service"
               and not any(m == allowed or m.startswith(allowed + ".") for allowed in LIFECYCLE_MAY_IMPORT)}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}
