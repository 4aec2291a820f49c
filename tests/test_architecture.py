"""The import directions of docs/design.md, checked on every module of every package.

Every import counts: at module level, inside functions, and under `if TYPE_CHECKING:`. Three rules:
- a package imports only the packages docs/design.md lets it (ALLOWED), and `dispatch` and `providers`
  none of the libraries FORBIDDEN to them;
- no module imports a private name (`_x`) of another module: what is shared is public;
- the module graph has no cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Who may import whom: the server (service, dispatch) ships neither the seed data, the simulator, the CLI,
# the benchmarks nor the tests; the CLI composes them all; the tests import everything but the benchmarks,
# which only their own tests (tests/benchmarks/) do.
ALLOWED = {
    "dispatch": set(),
    "providers": set(),
    "service": {"dispatch"},
    "seed": {"service", "dispatch"},
    "homecare_cli": {"service", "dispatch", "seed", "providers"},
    "benchmarks": {"service", "dispatch", "seed"},
    "tests": {"service", "dispatch", "seed", "providers", "homecare_cli"},
}
ALLOWED_BELOW = {"tests/benchmarks": {"benchmarks"}}
PACKAGES = set(ALLOWED)

FORBIDDEN = {
    "dispatch": {"fastapi", "sqlmodel", "sqlalchemy", "httpx", "apscheduler"},
    "providers": {"sqlmodel", "sqlalchemy", "fastapi"},
}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the module imported (or whose name is imported)
    name: str | None  # `from target import name`
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for package in sorted(PACKAGES) for path in sorted((ROOT / package).rglob("*.py"))}


def imports_of(module: str, source: str, is_package: bool = False) -> Iterator[Import]:
    """Every import statement of a module, wherever it stands, relative ones made absolute."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, None, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, target] if target else base)
            for alias in node.names:
                yield Import(module, target, alias.name, node.lineno)


def project_imports() -> list[Import]:
    modules = all_modules()
    return [
        imp
        for module, path in modules.items()
        for imp in imports_of(module, path.read_text(encoding="utf-8"), path.name == "__init__.py")
    ]


def package_of(module: str) -> str:
    return module.split(".")[0]


def resolve(imp: Import, modules: set[str]) -> str | None:
    """The project module an import loads: `from a.b import c` is module a.b.c when there is one."""
    if imp.name and f"{imp.target}.{imp.name}" in modules:
        return f"{imp.target}.{imp.name}"
    return imp.target if imp.target in modules else None


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return project_imports()


def offending_packages(imports: list[Import]) -> dict[str, list[str]]:
    offenders: dict[str, set[str]] = {}
    for imp in imports:
        package, root = package_of(imp.source), package_of(imp.target)
        allowed = set(ALLOWED[package])
        path = imp.source.replace(".", "/")
        for below, extra in ALLOWED_BELOW.items():
            if path.startswith(below + "/"):
                allowed |= extra
        if (root in PACKAGES and root != package and root not in allowed) or root in FORBIDDEN.get(package, ()):
            offenders.setdefault(imp.source, set()).add(imp.target)
    return {module: sorted(targets) for module, targets in sorted(offenders.items())}


def private_imports(imports: list[Import], modules: set[str]) -> list[str]:
    """`from m import _x` and `import m._x` where m is another module (a private module counts too)."""
    found = []
    for imp in imports:
        names = [imp.name] if imp.name else imp.target.split(".")[1:]
        if imp.target == imp.source or (imp.name and f"{imp.target}.{imp.name}" == imp.source):
            continue
        private = [n for n in names if n and n.startswith("_") and not n.startswith("__")]
        if private and (package_of(imp.target) in PACKAGES or imp.target in modules):
            found.append(f"{imp.source}:{imp.line} imports {imp.target}{'.' + imp.name if imp.name else ''}")
    return found


def module_graph(imports: list[Import], modules: set[str]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {module: set() for module in modules}
    for imp in imports:
        target = resolve(imp, modules)
        if target is not None:
            graph[imp.source].add(target)
    return graph


def cycles(imports: list[Import], modules: set[str]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan), and self-imports."""
    graph = module_graph(imports, modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(component)

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_every_package_imports_only_what_it_may(imports):
    assert offending_packages(imports) == {}


def test_no_module_imports_another_modules_private_names(imports):
    assert private_imports(imports, set(all_modules())) == []


def test_the_module_graph_has_no_cycle(imports):
    assert cycles(imports, set(all_modules())) == []


def test_every_package_is_checked():
    top_level = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    assert top_level == PACKAGES


# The checker itself, on small samples: each rule can fail.


def sample_imports(**modules: str) -> list[Import]:
    return [imp for name, text in modules.items() for imp in imports_of(name.replace("__", "."), text)]


def test_the_checker_sees_imports_inside_functions_and_type_checking():
    found = sample_imports(
        dispatch__x="""
import numpy
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from service.db import utcnow
def f():
    import sqlalchemy
    from seed import world
"""
    )
    assert offending_packages(found) == {"dispatch.x": ["seed", "service.db", "sqlalchemy"]}


def test_the_checker_resolves_relative_imports():
    found = list(imports_of("service.areas.extent", "from ..errors import Invalid\nfrom . import models\n"))
    assert [(i.target, i.name) for i in found] == [("service.errors", "Invalid"), ("service.areas", "models")]
    assert [i.target for i in imports_of("seed", "from .world import x", is_package=True)] == ["seed.world"]


def test_the_checker_lets_only_the_benchmarks_tests_import_benchmarks():
    found = sample_imports(
        tests__conftest="from benchmarks.pg import SERVER", tests__benchmarks__test_x="import benchmarks.faults.report"
    )
    assert offending_packages(found) == {"tests.conftest": ["benchmarks.pg"]}


def test_the_checker_sees_private_imports():
    found = sample_imports(
        service__a="from service.b import _helper, public\nimport service._c\nfrom service.b import __version__\n",
        service__b="from service.b import _self\n",
    )
    assert private_imports(found, {"service.a", "service.b"}) == [
        "service.a:1 imports service.b._helper",
        "service.a:2 imports service._c",
    ]


def test_the_checker_finds_cycles_through_function_level_imports():
    found = sample_imports(
        service__a="import service.b",
        service__b="def f():\n    from service.c import x\n",
        service__c="from service import a",
        service__d="import service.a",
    )
    modules = {"service", "service.a", "service.b", "service.c", "service.d"}
    assert cycles(found, modules) == [{"service.a", "service.b", "service.c"}]


# The transaction rule (docs/design.md § Transactions): services never commit. A request's transaction is
# committed by its session dependency, a job's units of work by `unit` (service/transactions.py), the
# migrations commit their own. Nowhere else in the server may `.commit()` be called.
COMMITTERS = {"service/deps.py", "service/transactions.py"}


def commit_calls(path: Path) -> list[int]:
    """The lines of `<anything>.commit(...)` calls in a module."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "commit"
    ]


def may_commit(relative: str) -> bool:
    return relative in COMMITTERS or "migrations" in Path(relative).parts


def test_only_the_transaction_owners_commit():
    offenders = {}
    for path in sorted((ROOT / "service").rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        if not may_commit(relative) and (lines := commit_calls(path)):
            offenders[relative] = lines
    assert offenders == {}


def test_the_checker_sees_commits(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text(
        "async def f(session, plan):\n    await session.commit()\n    plan.committed()\n"
        "    await (await session.connection()).commit()\n"
    )
    assert commit_calls(sample) == [2, 4]
    assert may_commit("service/deps.py") and may_commit("service/migrations/env.py")
    assert not may_commit("service/dispatching/faults.py")


# The lifecycle (service/lifecycle/) sits below the domains that move requests: it imports shared modules
# and two tables, never a domain's services (the old cycle dispatching/offers.py <-> requests/service.py).
LIFECYCLE_MAY_IMPORT = {
    "service.lifecycle",
    "service.catalogue",
    "service.db",
    "service.errors",
    "service.settings",
    "service.audit",
    "service.bulk",
    "service.providers.models",
    "service.visits.models",
}


def test_the_lifecycle_imports_no_domain_service(imports):
    offenders: dict[str, set[str]] = {}
    for imp in imports:
        if (
            imp.source.startswith("service.lifecycle")
            and package_of(imp.target) == "service"
            and not any(
                imp.target == allowed or imp.target.startswith(allowed + ".") for allowed in LIFECYCLE_MAY_IMPORT
            )
        ):
            offenders.setdefault(imp.source, set()).add(imp.target)
    assert offenders == {}
