"""The layer rules of docs/architecture.md, read from every module's imports with ``ast``.

A break fails here before it spreads: the ground floor importing upward, a metric importing the
model, a stage reading another stage's internals, anything importing a ``cli`` module, a cycle.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("vhq", "eval", "lia")
PROJECT = PACKAGES + ("cli", "manifests")
GROUND = ("vhq.errors", "vhq.console", "vhq.parallel", "vhq.distributed", "vhq.io")
# What eval/ and lia/train/ may take from the dataset stages: the readers of the files they write.
# A "package.module:attr" string that code imports on first use (eval/catalog.py keeps `vhq --help` light so).
LAZY_REF = re.compile(r"^((?:vhq|eval|lia)(?:\.\w+)+):[\w.]+$")
FORMAT_READERS = {"vhq.dataset.split": {"read_split", "ListedClip"}, "vhq.dataset.pairs": {"read_pairs", "Pair"}}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (a package's __init__ when a name of it is imported)
    names: tuple[str, ...]  # names taken from the target (empty for ``import x``)
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def read_imports(root: Path) -> tuple[dict[str, Path], list[Import]]:
    """Every project module under ``root`` and every import of a project module it makes (at any depth)."""
    modules = {}
    for top in PACKAGES:
        for path in sorted((root / top).rglob("*.py")):
            modules[module_name(path, root)] = path
    if (root / "cli.py").is_file():
        modules["cli"] = root / "cli.py"
    imports = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in PROJECT:
                        imports.append(Import(name, alias.name, (), node.lineno))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (ref := LAZY_REF.match(node.value)):
                imports.append(Import(name, ref.group(1), (), node.lineno))  # "module:attr", imported on first use
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.split(".")[0] not in PROJECT:
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in modules:  # ``from pkg import module``
                        imports.append(Import(name, sub, (), node.lineno))
                    else:
                        imports.append(Import(name, target, (alias.name,), node.lineno))
    return modules, imports


def within(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def is_ground(module: str) -> bool:
    return module == "vhq" or within(module, *GROUND)


def broken_rules(imp: Import, where: str) -> list[str]:
    m, t = imp.module, imp.target
    out = []
    if is_ground(m) and not is_ground(t):
        out.append(f"{where}: the ground floor ({m}) imports {t}")
    if within(m, "vhq.weights") and not (is_ground(t) or within(t, "vhq.weights")):
        out.append(f"{where}: vhq.weights imports {t} (only the ground floor is allowed)")
    if within(m, "eval", "lia.train") and within(t, "vhq.dataset"):
        allowed = FORMAT_READERS.get(t, set())
        if not imp.names or not set(imp.names) <= allowed:
            out.append(f"{where}: {m} imports {t}{' ' + ', '.join(imp.names) if imp.names else ''}; "
                       "from vhq.dataset only the format readers read_split and read_pairs are allowed")
    if within(m, "eval") and m != "eval.bench.models" and within(t, "lia"):
        out.append(f"{where}: {m} imports {t}; in eval only eval/bench/models.py may import lia")
    if within(m, "vhq.dataset") and within(t, "eval", "lia", "vhq.testing"):
        out.append(f"{where}: the dataset stage {m} imports {t}")
    if within(m, "lia") and not within(m, "lia.train") and within(t, "eval"):
        out.append(f"{where}: the LIA model {m} imports {t}")
    if (t == "cli" or t.endswith(".cli")) and m != "cli":
        out.append(f"{where}: {m} imports {t}; only the root cli.py mounts the commands")
    if imp.names and t == "cli":
        out.append(f"{where}: {m} imports from cli")
    return out


def find_cycle(imports: list[Import]) -> list[str] | None:
    """One import cycle between modules, as a list of names, or None."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if imp.target != imp.module:
            graph.setdefault(imp.module, set()).add(imp.target)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def violations(root: Path) -> list[str]:
    modules, imports = read_imports(root)
    out = [msg for imp in imports for msg in broken_rules(imp, f"{modules[imp.module].relative_to(root).as_posix()}:{imp.line}")]
    # A package's __init__ re-exporting its own modules is how its public API is spelled, not a cycle.
    cycle = find_cycle([i for i in imports if not (modules[i.module].name == "__init__.py" and within(i.target, i.module))])
    if cycle:
        out.append("import cycle: " + " -> ".join(cycle))
    return out


def stray_path_edits(root: Path) -> list[str]:
    """``sys.path`` edits in tests or benchmarks, and benchmarks importing test modules."""
    out = []
    for top in ("tests", "benchmarks"):
        for path in sorted((root / top).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and node.attr == "path" and isinstance(node.value, ast.Name) and node.value.id == "sys":
                    out.append(f"{path.relative_to(root)}:{node.lineno}: sys.path is edited")
                if top == "benchmarks" and isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                    if any(n.split(".")[0] in ("tests", "conftest") for n in names):
                        out.append(f"{path.relative_to(root)}:{node.lineno}: a benchmark imports the test suite")
    return out


def test_the_tree_keeps_the_layer_rules():
    assert violations(ROOT) == []


def test_no_sys_path_edits_and_benchmarks_use_vhq_testing():
    assert stray_path_edits(ROOT) == []


# ---------------------------------------------------------------- the checker catches each break


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for top in PACKAGES:
        (root / top).mkdir(exist_ok=True)
    return root


BASE = {
    "vhq/__init__.py": "", "vhq/errors.py": "", "vhq/io/__init__.py": "", "vhq/io/files.py": "from vhq.errors import x\n",
    "vhq/weights/__init__.py": "from vhq.weights.registry import fetch\n", "vhq/weights/registry.py": "from vhq.io import files\n",
    "vhq/dataset/__init__.py": "", "vhq/dataset/split.py": "from vhq.io import files\n", "vhq/dataset/cli.py": "from vhq.dataset import split\n",
    "eval/__init__.py": "", "eval/metrics.py": "from vhq.dataset.split import read_split\n",
    "eval/bench/__init__.py": "", "eval/bench/models.py": "import lia.generator\n",
    "lia/__init__.py": "", "lia/generator.py": "from vhq.io import files\n",
    "cli.py": "from vhq.dataset import cli as dataset_cli\n",
}


@pytest.mark.parametrize("rel,text,expected", [
    ("vhq/io/video.py", "from vhq.dataset import split\n", "the ground floor"),
    ("vhq/parallel.py", "def f():\n    from eval import metrics\n", "the ground floor"),
    ("vhq/weights/entries.py", "import importlib\nfrom eval.backbones import i3d\n", "vhq.weights imports eval.backbones"),
    ("eval/paired.py", "from vhq.dataset.crop import stage\n", "only the format readers"),
    ("eval/report.py", "from vhq.dataset.split import FIELDS\n", "only the format readers"),
    ("eval/distribution.py", "from lia.generator import Generator\n", "only eval/bench/models.py may import lia"),
    ("eval/bench/protocols.py", "import lia\n", "only eval/bench/models.py may import lia"),
    ("vhq/dataset/stats.py", "from vhq.testing import synthetic\n", "the dataset stage"),
    ("lia/animate.py", "from eval import metrics\n", "the LIA model"),
    ("eval/leaderboard.py", "from vhq.dataset import cli\n", "only the root cli.py"),
    ("lia/extra.py", "import cli\n", "only the root cli.py"),
    ("eval/catalog.py", "LOADERS = {'lia': 'lia.generator:Generator'}\n", "only eval/bench/models.py may import lia"),
    ("vhq/io/a.py", "from vhq.io import b\n", "import cycle"),
], ids=lambda v: v if isinstance(v, str) and "/" in v else None)
def test_a_planted_violation_is_reported(tmp_path, rel, text, expected):
    files = dict(BASE)
    files[rel] = text
    if rel == "vhq/io/a.py":
        files["vhq/io/b.py"] = "from vhq.io import a\n"
    root = write_tree(tmp_path, files)
    assert violations(write_tree(tmp_path / "clean", BASE)) == []
    found = violations(root)
    assert any(expected in v for v in found), found


def test_a_planted_path_edit_is_reported(tmp_path):
    root = write_tree(tmp_path, {**BASE, "benchmarks/b.py": "import sys\nsys.path.insert(0, 'tests')\nfrom conftest import x\n", "tests/t.py": ""})
    found = stray_path_edits(root)
    assert any("sys.path is edited" in v for v in found) and any("imports the test suite" in v for v in found), found
