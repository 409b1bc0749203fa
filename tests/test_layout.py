"""The package's shape: stages import only earlier stages, the site is a leaf, and each
decision (freshness, atomic writes, model loading, board loading) is made in one place."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "ftbench"

# The pipeline, earliest stage first. A module may import its own stage and earlier ones,
# never a later one (imports under ``if TYPE_CHECKING:`` are annotations, not dependencies).
STAGES = [
    (
        "foundations",
        ["ftbench", "ftbench.errors", "ftbench.registry", "ftbench.files", "ftbench.config", "ftbench.git"],
    ),
    (
        "spec and measures",
        [
            "ftbench.spec",
            "ftbench.metrics",
            "ftbench.efficiency",
            "ftbench.measure",
            "ftbench.provenance",
            "ftbench.untrusted",
            "ftbench.perplexity",
            "ftbench.weightfiles",
            "ftbench.compare",
            "ftbench.calibration",
        ],
    ),
    ("tasks", ["ftbench.tasks", "ftbench.fetch", "ftbench.prompting", "ftbench.contamination", "ftbench.overlaps"]),
    ("submissions and keys", ["ftbench.submissions", "ftbench.keys"]),
    ("models", ["ftbench.models"]),
    ("runner", ["ftbench.runner"]),
    ("record", ["ftbench.record", "ftbench.scores", "ftbench.audit", "ftbench.baselines", "ftbench.baseline_files"]),
    ("jobs", ["ftbench.jobs"]),
    ("evaluation", ["ftbench.evaluate_lm", "ftbench.evaluate", "ftbench.verify", "ftbench.check", "ftbench.collect"]),
    ("ranking", ["ftbench.leaderboard", "ftbench.display"]),
    ("board", ["ftbench.board"]),
    ("consumers", ["ftbench.report", "ftbench.site"]),
    ("test helpers", ["ftbench.testing"]),
    ("command line", ["ftbench.cli", "ftbench.__main__"]),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def stage(module: str) -> int:
    """Index of the stage a module belongs to (the longest matching prefix)."""
    best, found = -1, None
    for i, (_, prefixes) in enumerate(STAGES):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), i
    assert found is not None, f"{module} belongs to no stage: add it to STAGES"
    return found


def imports(module: str) -> set[str]:
    """ftbench modules imported by ``module`` anywhere (function bodies included), except
    under ``if TYPE_CHECKING:``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    skipped = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "ftbench"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ftbench":
            for alias in node.names:  # ``from ftbench.site import charts`` imports a module
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return found - {module}


GRAPH = {m: imports(m) for m in MODULES}


def test_every_module_belongs_to_a_stage():
    for module in MODULES:
        stage(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_nothing_imports_a_later_stage(module):
    later = [dep for dep in GRAPH[module] if stage(dep) > stage(module)]
    assert not later, f"{module} ({STAGES[stage(module)][0]}) imports later stages: {later}"


def test_no_import_cycles():
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(GRAPH.get(module, ())):
            if state.get(dep) == 1:
                pytest.fail("import cycle: " + " -> ".join([*path[path.index(dep) :], dep]))
            if state.get(dep) is None:
                visit(dep, [*path, dep])
        state[module] = 2

    for module in sorted(MODULES):
        if module not in state:
            visit(module, [module])


def test_only_the_cli_and_the_site_import_the_site():
    importers = {
        m for m, deps in GRAPH.items() if any(d == "ftbench.site" or d.startswith("ftbench.site.") for d in deps)
    }
    assert {m for m in importers if not m.startswith(("ftbench.site", "ftbench.cli"))} == set()


def _loaded_after(statement: str) -> list[str]:
    code = (
        f"import sys\n{statement}\n"
        "heavy = ('markdown_it', 'nh3', 'jinja2', 'torch', 'transformers', 'sklearn')\n"
        "print(' '.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_the_report_does_not_load_the_html_stack():
    assert _loaded_after("import ftbench.report") == []


def test_the_board_snapshot_and_jobs_are_light():
    assert _loaded_after("import ftbench.board.read, ftbench.jobs, ftbench.models.backends") == []


def _definitions(name: str) -> list[str]:
    return sorted(
        module
        for module, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Assign)
        and name
        in ([t.id for t in node.targets if isinstance(t, ast.Name)] if isinstance(node, ast.Assign) else [node.name])
    )


@pytest.mark.parametrize(
    ("name", "home"),
    [
        ("freshness", "ftbench.jobs"),
        ("write_atomic", "ftbench.files"),
        ("file_sha256", "ftbench.files"),
        ("read_jsonl", "ftbench.files"),
        ("load_model", "ftbench.models.backends"),
        ("load_board", "ftbench.board.read"),
        ("load_submissions", "ftbench.submissions"),
        ("DEFAULT_BATCH_SIZE", "ftbench"),
        ("EFFICIENCY_COLUMNS", "ftbench.display"),
        ("metric_heading", "ftbench.display"),
    ],
)
def test_each_decision_is_made_once(name, home):
    assert _definitions(name) == [home]


def test_only_the_file_writers_replace_files_and_only_git_runs_git():
    replacing = {m for m, p in MODULES.items() if "os.replace(" in p.read_text(encoding="utf-8")}
    assert replacing <= {"ftbench.files", "ftbench.site.write"}  # the writer, and the record links
    running = {m for m, p in MODULES.items() if "subprocess" in p.read_text(encoding="utf-8")}
    assert running == {"ftbench.git"}


def test_batch_size_has_one_default():
    """``DEFAULT_BATCH_SIZE`` is the only place the number is written (it was once in four)."""
    pattern = re.compile(r"batch[_ -]size\W[^\n]{0,40}?\b64\b", re.IGNORECASE)
    found = [
        f"{m}: {hit}"
        for m, p in MODULES.items()
        for hit in pattern.findall(p.read_text(encoding="utf-8"))
        if not (m == "ftbench" and hit.startswith("BATCH_SIZE = "))
    ]
    assert found == []
