"""The shape of seqlab's source tree in four numbers: import circles, upward imports, the longest
files, and the largest modules' import fan-out. docs/layout.md quotes its output before and after
a reorganisation.

    python tools/import_graph.py [--src src] [--json out.json]

Written here (not pydeps/import-linter) because it needs only ``ast`` and counts exactly what
docs/layout.md names: every ``import``/``from`` statement anywhere in a module (also inside
functions: a lazy import still ties two files together) between modules of the ``seqlab`` package.

- **circle**: a strongly connected set of two or more modules (each reaches the others by imports).
- **upward import**: a module importing one of its own ancestor packages (``seqlab.engine.trainer``
  importing ``seqlab``): the package's ``__init__`` then depends on what lies below it.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path


def module_name(path: Path, src: Path) -> str:
    """``src/seqlab/engine/trainer.py`` -> ``seqlab.engine.trainer`` (a package -> its name)."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, name: str, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that ``path`` (module ``name``) imports, wherever it does."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: climb level-1 packages from this module's package
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            # the longest known module that the target names (``a.b.func`` -> ``a.b``); the
            # parent packages Python also runs on the way are not counted as imports
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components of ``graph`` with two or more members, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            members = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                members.append(top)
                if top == node:
                    break
            if len(members) > 1:
                out.append(sorted(members))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(out)


def measure(src: Path) -> dict:
    """The numbers for the ``seqlab`` package under ``src``."""
    files = {module_name(p, src): p for p in sorted((src / "seqlab").rglob("*.py"))}
    graph = {name: imports_of(path, name, set(files)) for name, path in files.items()}
    circles = strongly_connected(graph)
    upward = sorted(
        f"{name} -> {target}"
        for name, targets in graph.items()
        for target in targets
        if name.startswith(target + ".")
    )
    lines = {
        str(p.relative_to(src)): len(p.read_text(encoding="utf-8").splitlines())
        for p in files.values()
    }
    longest = sorted(lines.items(), key=lambda kv: -kv[1])[:5]
    return {
        "modules": len(files),
        "lines": sum(lines.values()),
        "circles": circles,
        "upward_imports": upward,
        "longest_files": longest,
        "files_over_500_lines": sum(n > 500 for n in lines.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", default="src", help="the folder holding the seqlab package")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()
    result = measure(Path(args.src))
    print(f"{result['modules']} modules, {result['lines']} lines")
    print(f"import circles: {len(result['circles'])}")
    for circle in result["circles"]:
        print("  " + " <-> ".join(circle))
    print(f"upward imports: {len(result['upward_imports'])}")
    for edge in result["upward_imports"]:
        print("  " + edge)
    print(f"files over 500 lines: {result['files_over_500_lines']}; longest:")
    for path, n in result["longest_files"]:
        print(f"  {n:5d}  {path}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
