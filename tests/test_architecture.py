"""The house's walls, read from the code itself (``ast``, nothing imported or run).

Why a test: the layout of ``pipelines/`` (``docs/architecture.md``) only helps while it
stays true, and one innocent-looking import is enough to break a wall unnoticed. Each
check lists every offender, so a failure names the file and line to fix.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("pipelines", "crawler", "components", "pages")
UI = ("components", "pages")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
LONG_REASON = "Long because"


def shipped_files() -> list[Path]:
    """Every Python file of the product (not tests, benches or tools)."""
    files = [ROOT / "app.py"]
    for top in SHIPPED:
        files += sorted((ROOT / top).rglob("*.py"))
    return [f for f in files if "assets" not in f.relative_to(ROOT).parts]


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.cache
def parsed(path: Path) -> ast.Module:
    """The syntax tree of ``path`` (cached: every rule walks the same files)."""
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imports(path: Path) -> Iterator[tuple[str, int]]:
    """Every module ``path`` imports, anywhere in the file (lazy imports count), with its line.

    ``from a import b`` yields both ``a`` and ``a.b`` (``b`` may be a module);
    relative imports are resolved against the file's package.
    """
    tree = parsed(path)
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            yield mod, node.lineno
            for alias in node.names:
                yield f"{mod}.{alias.name}", node.lineno


def offenders(allowed, banned: tuple[str, ...]) -> list[str]:
    """``file:line -> module`` for each import of a ``banned`` top-level package by a file
    for which ``allowed(relative_path)`` is false."""
    out = []
    for f in shipped_files():
        if allowed(rel(f)):
            continue
        for mod, line in imports(f):
            if mod.split(".")[0] in banned:
                out.append(f"{rel(f)}:{line} imports {mod}")
    return sorted(set(out))


def in_store(path: str) -> bool:
    return path.startswith("pipelines/store/")


def test_only_the_store_imports_pymongo() -> None:
    assert offenders(in_store, ("pymongo", "bson")) == []


def test_scrapy_only_in_the_crawler() -> None:
    assert offenders(lambda p: p.startswith("crawler/"), ("scrapy", "twisted")) == []


def test_streamlit_only_in_the_ui() -> None:
    assert offenders(lambda p: p == "app.py" or p.startswith(UI), ("streamlit",)) == []


def test_pipelines_imports_no_ui_and_no_crawler() -> None:
    found = offenders(
        lambda p: not p.startswith("pipelines/"), ("streamlit", "scrapy", "components", "pages")
    )
    assert found == []


def module_lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_module_over_600_lines() -> None:
    long = [
        f"{rel(f)}: {module_lines(f)} lines"
        for f in shipped_files()
        if f != ROOT / "app.py" and module_lines(f) > MAX_MODULE_LINES
    ]
    assert long == []


def long_functions(path: Path) -> Iterator[str]:
    for node in ast.walk(parsed(path)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            n = node.end_lineno - node.lineno + 1
            if n > MAX_FUNCTION_LINES and LONG_REASON not in (ast.get_docstring(node) or ""):
                yield f"{rel(path)}:{node.lineno} {node.name}: {n} lines"


def test_no_function_over_80_lines_without_a_reason() -> None:
    found = [msg for f in shipped_files() for msg in long_functions(f)]
    assert found == [], f'split these, or say why in the docstring ("{LONG_REASON} ...")'


def stage_of(module: str) -> str | None:
    """The stage package (or top-level module) of ``pipelines`` that ``module`` is in."""
    parts = module.split(".")
    if parts[0] != "pipelines" or len(parts) < 2:
        return None
    top = parts[1]
    exists = (ROOT / "pipelines" / top).is_dir() or (ROOT / "pipelines" / f"{top}.py").is_file()
    return top if exists else None


def stage_graph() -> dict[str, set[str]]:
    """Stage -> the stages it imports (lazy imports included: a cycle hidden in a function is
    still a cycle)."""
    graph: dict[str, set[str]] = {}
    for f in sorted((ROOT / "pipelines").rglob("*.py")):
        src = stage_of(module_name(f))
        if src is None:
            continue
        deps = graph.setdefault(src, set())
        for mod, _ in imports(f):
            dst = stage_of(mod)
            if dst is not None and dst != src:
                deps.add(dst)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or ``None`` (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_the_stage_packages_import_no_cycle() -> None:
    cycle = find_cycle(stage_graph())
    assert cycle is None, "import cycle between stages: " + " -> ".join(cycle or [])


@pytest.mark.parametrize(
    ("graph", "has_cycle"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
        ({"a": {"b"}, "b": {"a"}}, True),
        ({"a": {"b", "c"}, "b": {"c"}, "c": {"a"}}, True),
    ],
)
def test_find_cycle_finds_cycles(graph: dict[str, set[str]], has_cycle: bool) -> None:
    assert (find_cycle(graph) is not None) is has_cycle


def test_the_scan_sees_the_code() -> None:
    """Guards the guards: the rules above pass vacuously if the walk finds nothing."""
    files = {rel(f) for f in shipped_files()}
    assert {"app.py", "pipelines/supervisor.py", "crawler/settings.py"} <= files
    assert ("pymongo", 1) not in set(imports(ROOT / "app.py"))
    graph = stage_graph()
    assert {"core", "ingest", "search", "read"} <= set(graph)
    assert "core" in graph["read"] or "search" in graph["read"]


def test_the_documented_tree_names_every_package() -> None:
    """``docs/architecture.md`` opens with the tree of ``pipelines/``: a newcomer finds a stage
    there in one step only while every package (and top-level module) is in it."""
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    tree = doc.split("```")[1]
    children = sorted(
        p.name.removesuffix(".py")
        for p in (ROOT / "pipelines").iterdir()
        if (p.is_dir() and (p / "__init__.py").is_file()) or (p.suffix == ".py" and p.name != "__init__.py")
    )
    missing = [c for c in children if not re.search(rf"── {re.escape(c)}(/|\.py)", tree)]
    missing += [top for top in ("crawler/", "components/", "pages/", "app.py") if top not in tree]
    assert missing == []
