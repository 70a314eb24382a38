"""The architecture stays as the README's "Where things live" draws it: imports only go down, no cycles.

Every import counts, including those inside functions and under `if TYPE_CHECKING:` (a lazy
import is still a dependency; hiding one is how the old plan <-> sections cycle survived).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Optional

import pytest

from tests.conftest import import_without

# Bottom first. A module may import from its own unit or from a unit of a lower row; units in
# one row may not import each other. `infra` alone is the package root (infra/__init__.py).
LAYERS: list[tuple[str, ...]] = [
    ("infra",),
    ("infra.pricing",),
    ("infra.config",),
    ("infra.documents",),
    ("components", "policies"),
    ("infra.assembly", "infra.plan", "infra.ops"),
    ("infra.cli",),
    ("infra.__main__", "__main__"),
]
CHECKED = ("infra", "components", "policies")  # folders whose modules must sit in a layer
TOP = ("tests", "bench")  # may import anything; nothing may import them
MAX_LINES = 300
# policies/venv is the pack's own virtualenv (README, "Policy pack"): installed code, not ours.
SKIPPED_DIRS = {"venv", ".venv", "site-packages", "__pycache__", "node_modules"}


def module_name(root: Path, path: Path) -> str:
    """Dotted module name of a file under root (packages are their __init__)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path) -> dict[str, Path]:
    """Every module of the checked folders, plus the project's __main__.py (virtualenvs and caches skipped)."""
    found = {module_name(root, p): p for folder in CHECKED for p in sorted((root / folder).rglob("*.py"))
             if not SKIPPED_DIRS & set(p.relative_to(root).parts)}
    if (root / "__main__.py").exists():
        found["__main__"] = root / "__main__.py"
    return found


def unit_of(module: str) -> Optional[str]:
    """The layer unit a module belongs to (the longest matching entry; `infra` matches only itself)."""
    best = None
    for row in LAYERS:
        for unit in row:
            inside = module == unit or (unit != "infra" and module.startswith(unit + "."))
            if inside and (best is None or len(unit) > len(best)):
                best = unit
    return best


def rank(unit: str) -> int:
    """Row of a unit in LAYERS."""
    return next(i for i, row in enumerate(LAYERS) if unit in row)


def imports_of(module: str, path: Path, known: set[str]) -> list[tuple[int, str]]:
    """(line, imported project module) for every import statement anywhere in the file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from pkg import mod` imports the module when there is one
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            top = target.split(".")[0]
            if top in (*CHECKED, *TOP) or target == "__main__":
                while top in CHECKED and target not in known and "." in target:
                    target = target.rpartition(".")[0]
                found.append((node.lineno, target))
    return found


def layering_problems(root: Path) -> list[str]:
    """Imports that go up or sideways, imports of tests/bench, and modules outside every layer."""
    modules = project_modules(root)
    problems = []
    for module, path in modules.items():
        unit = unit_of(module)
        where = path.relative_to(root)
        if unit is None:
            problems.append(f"{where}: {module} is in no layer; add it to LAYERS and the README's tree")
            continue
        for line, target in imports_of(module, path, set(modules)):
            if target.split(".")[0] in TOP:
                problems.append(f"{where}:{line}: imports {target}, which only tests and benchmarks may do")
                continue
            other = unit_of(target)
            if other is None or other == unit:
                continue
            if rank(other) >= rank(unit):
                problems.append(f"{where}:{line}: {unit} imports {target} ({other}), which is not below it")
    return problems


def import_cycles(root: Path) -> list[list[str]]:
    """Strongly connected groups of modules that import each other (Tarjan), largest first."""
    modules = project_modules(root)
    graph = {m: sorted({t for _, t in imports_of(m, p, set(modules)) if t in modules and t != m})
             for m, p in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return sorted(cycles, key=len, reverse=True)


def test_imports_only_go_down(repo_root):
    assert layering_problems(repo_root) == []


def test_no_import_cycle(repo_root):
    assert import_cycles(repo_root) == []


def test_no_module_is_longer_than_the_limit(repo_root):
    long = {str(p.relative_to(repo_root)): n for p in project_modules(repo_root).values()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"split these into modules of one concern each (limit {MAX_LINES} lines)"


def test_every_layer_is_in_the_readme_tree(repo_root):
    readme = (repo_root / "README.md").read_text()
    for row in LAYERS[1:]:
        for unit in row:
            if unit not in ("__main__", "infra.__main__"):
                is_package = (repo_root / unit.replace(".", "/")).is_dir()
                shown = unit.replace(".", "/") + ("/" if is_package else ".py")
                assert f"\n{shown} " in readme, f"{shown} is missing from README 'Where things live'"


def test_policy_pack_imports_with_only_its_own_requirements():
    # Pulumi runs the pack in policies/venv, which has only pulumi and pulumi-policy
    # (policies/requirements.txt); the infra modules it uses must not pull in the program's stack.
    result = import_without(["policies.pack"], ("pydantic", "pulumi_aws", "pulumi_kubernetes", "pulumi_tls", "boto3",
                                                "botocore", "jsonschema"))
    assert result.returncode == 0, result.stderr


# The checker itself, on a scratch tree: it must see an upward import, a hidden lazy one, and a cycle.

def _scratch(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"infra/__init__.py": "", "infra/config/__init__.py": "", "infra/plan/__init__.py": "",
                       "components/__init__.py": "", "policies/__init__.py": "", **files}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_checker_reports_an_upward_import(tmp_path):
    root = _scratch(tmp_path, {"infra/config/loader.py": "def f():\n    from infra.plan.report import Plan\n",
                               "infra/plan/report.py": "from infra.config.loader import f\n"})
    problems = layering_problems(root)
    assert problems == [f"{Path('infra/config/loader.py')}:2: infra.config imports infra.plan.report (infra.plan), "
                        "which is not below it"]


def test_checker_reports_sideways_imports_and_unplaced_modules(tmp_path):
    root = _scratch(tmp_path, {"components/eks.py": "from policies import rules\n", "policies/rules.py": "",
                               "infra/newthing.py": "", "infra/config/x.py": "import tests.conftest\n",
                               "policies/venv/lib/site-packages/big.py": "import tests\n" + "x = 1\n" * 400})
    problems = layering_problems(root)
    assert any("components imports policies.rules (policies), which is not below it" in p for p in problems)
    assert any("infra.newthing is in no layer" in p for p in problems)
    assert any("imports tests.conftest, which only tests and benchmarks may do" in p for p in problems)
    assert not any("venv" in p for p in problems) and "policies.venv.lib.site-packages.big" not in project_modules(root)


def test_checker_finds_a_cycle_through_a_type_checking_import(tmp_path):
    root = _scratch(tmp_path, {
        "infra/plan/report.py": "from infra.plan.sections import build\n",
        "infra/plan/sections.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from infra.plan.report import Plan\n",
        "infra/plan/harness.py": "from . import report\n",
    })
    assert import_cycles(root) == [["infra.plan.report", "infra.plan.sections"]]


@pytest.mark.parametrize("module, unit", [
    ("infra", "infra"), ("infra.cli", "infra.cli"), ("infra.config.loader", "infra.config"),
    ("infra.plan", "infra.plan"), ("components.eks", "components"), ("infra.newthing", None), ("tests.x", None),
])
def test_unit_of(module, unit):
    assert unit_of(module) == unit
