"""The package layout: every import goes down the layers of docs/architecture.md, none in a circle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from repro.core.runtime import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "repro"
# docs/architecture.md, "The layers": a module may import from its own layer's package and below
LAYERS = {"core": 0, "maths": 1, "data": 1, "evaluation": 2, "samplers": 2, "gan": 3, "analysis": 3,
          "harness": 4, "report": 4, "cli": 5, "__main__": 6}


def _module(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module → the repro modules it imports anywhere in its body (function-level included)."""
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}

    def resolve(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {resolve(a.name) for a in node.names if a.name.startswith("repro")}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("repro") and not node.level:
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    found.add(full if full in modules else resolve(node.module))
        graph[name] = found - {name}
    return graph


def _layer(module: str) -> int:
    parts = module.split(".")
    # the root package hands out repro.evaluate (lazily): the top, which nothing imports
    return LAYERS[parts[1]] if len(parts) > 1 else max(LAYERS.values()) + 1


def test_every_import_goes_down_the_layers() -> None:
    up = [(a, b) for a, deps in _imports().items() for b in deps
          if _layer(b) > _layer(a) or (_layer(b) == _layer(a) and a.split(".")[1] != b.split(".")[1])]
    assert not up, f"imports that go up or sideways a layer: {up}"


def test_no_import_runs_in_a_circle() -> None:
    graph = _imports()
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(m: str, path: list[str]) -> bool:
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                cycle.extend(path[path.index(d):] + [m, d] if d in path else [m, d])
                return True
            if d not in state and visit(d, path + [m]):
                return True
        state[m] = 2
        return False

    assert not any(visit(m, []) for m in sorted(graph) if m not in state), f"import cycle: {' -> '.join(cycle)}"


def test_the_repository_speaks_of_the_project_only() -> None:
    """Code, docs, specs and the paper name no development sessions, issue numbers or notes."""
    words = re.compile(r"\b(session \d|sessions? ago|issue #?\d+|closing note|my tests)\b", re.IGNORECASE)
    roots = [PACKAGE, PROJECT_ROOT / "docs", PROJECT_ROOT / "study", PROJECT_ROOT / "paper",
             PROJECT_ROOT / "scripts", PROJECT_ROOT / "bench"]
    files = [PROJECT_ROOT / "README.md", PROJECT_ROOT / "Makefile"]
    files += [p for r in roots if r.is_dir() for p in r.rglob("*") if p.suffix in (".py", ".md", ".toml", ".tex", ".j2", ".sh")]
    hits = [f"{p.relative_to(PROJECT_ROOT)}: {m.group(0)}" for p in files if p.is_file()
            for m in words.finditer(p.read_text(errors="replace"))]
    assert not hits, hits
