"""Faults leave nothing behind: evaluate and build killed with SIGKILL at random points,
again and again, leave no temporary file once the next run has started, no half-written
record, and no temporary file in the published site."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

from conftest import ROOT
from ftbench.files import is_leftover_temporary, remove_leftover_temporaries
from ftbench.record import read_record
from site_fixtures import make_site_board

EVALUATE = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from conftest import keyword_model
from ftbench.config import load_config
from ftbench.evaluate import EvalSettings, evaluate_pending
evaluate_pending(load_config(Path({root!r})), settings=EvalSettings(progress=False), force=True, backend=keyword_model)
"""


def _kill_at_random(command: list[str], rng: random.Random, longest_s: float) -> None:
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0.0, longest_s))
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_killed_evaluations_leave_no_temporary_file_and_no_half_record(evaluated):
    rng = random.Random(7)
    code = EVALUATE.format(tests=str(ROOT / "tests"), root=str(evaluated.root))
    for _ in range(6):
        _kill_at_random([sys.executable, "-c", code], rng, 2.5)
        for path in evaluated.results_dir.rglob("*.json"):
            read_record(path)  # whole, never half-written: it parses and validates
        remove_leftover_temporaries(evaluated.results_dir)  # what the next `evaluate` does first
        assert [p for p in evaluated.results_dir.rglob("*") if is_leftover_temporary(p)] == []


def test_killed_builds_never_publish_a_temporary_file(tmp_path):
    board = make_site_board(tmp_path / "board")
    rng = random.Random(3)
    command = [sys.executable, "-m", "ftbench", "--root", str(board), "build", "--force", "--workers", "2"]
    for _ in range(6):
        _kill_at_random(command, rng, 1.5)
    subprocess.run([sys.executable, "-m", "ftbench", "--root", str(board), "build"], check=True, capture_output=True)
    site = board / "site"
    assert [p for p in site.rglob("*") if is_leftover_temporary(p)] == []
    assert (site / "index.html").is_file()
