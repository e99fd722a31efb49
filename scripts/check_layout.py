"""The layout rules import-linter cannot state: no import cycles, few flat modules, small modules.

Run by scripts/test.sh after ``lint-imports`` (which checks the layers contract in
pyproject.toml). Exits 1 naming every breach:

- no import cycle between any two modules of the package, lazy imports inside functions
  included (``if TYPE_CHECKING:`` imports are not imports at run time, so they do not count);
- at most 12 modules directly in ``scopedauth/``: the core stays small, the rest lives in layers;
- no module over 400 lines.
"""

from __future__ import annotations

import sys
from pathlib import Path

import grimp

PACKAGE = "scopedauth"
MAX_FLAT_MODULES = 12
MAX_LINES = 400


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def main() -> int:
    root = Path(__file__).resolve().parent.parent / PACKAGE
    problems: list[str] = []
    graph = grimp.build_graph(PACKAGE, exclude_type_checking_imports=True)
    problems += [f"import cycle: {' <-> '.join(cycle)}" for cycle in import_cycles(graph)]
    flat = sorted(p.name for p in root.glob("*.py"))
    if len(flat) > MAX_FLAT_MODULES:
        problems.append(f"{len(flat)} modules directly in {PACKAGE}/ (at most {MAX_FLAT_MODULES}): {', '.join(flat)}")
    for path in sorted(root.rglob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            problems.append(f"{path.relative_to(root.parent)}: {lines} lines (at most {MAX_LINES})")
    for problem in problems:
        print(f"check_layout: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
