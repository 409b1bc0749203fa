"""The pull-request report: one section per changed submission, ranks, shared headings,
escaped contributor text, each submission validated once."""

from __future__ import annotations

import pytest
import yaml

from ftbench.config import load_config
from ftbench.display import EFFICIENCY_COLUMNS, metric_heading
from ftbench.report import MARKER, build_report, escape
from site_fixtures import make_site_board


@pytest.fixture
def site_board(tmp_path):
    return make_site_board(tmp_path / "board")


def _row(report: str, task: str) -> list[str]:
    line = next(line for line in report.splitlines() if line.startswith(f"| {task} |"))
    return [cell.strip() for cell in line.strip("|").split(" | ")]


def test_a_section_per_submission_with_ranks_and_the_sites_columns(site_board):
    report = build_report(load_config(site_board), ids=["gamma-ia3"])
    assert report.startswith(MARKER) and "### Gamma Ia3 (`gamma-ia3`)" in report
    header = next(line for line in report.splitlines() if line.startswith("| task |"))
    assert header.endswith(" | ".join(metric_heading(m) for m in EFFICIENCY_COLUMNS) + " |")
    sentiment = _row(report, "sentiment")
    assert sentiment[2] == "=1 of 6 (5th by score; not significantly different from 5) ★ Pareto" and len(
        sentiment
    ) == 4 + len(EFFICIENCY_COLUMNS)  # fastest
    assert "(95% CI " in sentiment[1]
    topics = _row(report, "topics")  # gamma's topics record is stale: not ranked
    assert topics[1] == "— (stale: not evaluated yet)" and topics[2] == "—"
    assert "Alpha Lora" not in report.split("### Gamma Ia3")[0]


def test_contributor_text_is_inert(site_board):
    spec_path = site_board / "submissions" / "alpha-lora" / "submission.yaml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["name"] = "<img src=x onerror=alert(1)> | @maintainers `rm`"
    spec_path.write_text(yaml.safe_dump(spec))
    report = build_report(load_config(site_board), ids=["alpha-lora"])
    assert "<img" not in report and "@maintainers" not in report and "`rm`" not in report
    assert escape(spec["name"]) in report


def test_an_invalid_submission_gets_its_issues(site_board):
    (site_board / "submissions" / "delta-head" / "weights.bin").write_bytes(b"pickle")
    report = build_report(load_config(site_board), ids=["delta-head"])
    assert "### `delta-head` — ❌ not valid" in report
    assert "weights.bin:-: .bin files can run code when loaded (pickle)" in report


def test_each_submission_is_validated_once(site_board, monkeypatch):
    import ftbench.submissions as submissions

    calls: list[str] = []
    original = submissions.load_submission

    def counting(folder, tasks, data_dir=None, found=None):
        calls.append(folder.name)
        return original(folder, tasks, data_dir, found)

    monkeypatch.setattr(submissions, "load_submission", counting)
    build_report(load_config(site_board), ids=["alpha-lora"])
    assert sorted(calls) == ["alpha-lora", "beta-full", "delta-head", "epsilon-prompted", "gamma-ia3", "zeta-sft"]


def test_a_board_without_git_history_asks_for_ids(site_board):
    from ftbench.errors import FtbenchError

    with pytest.raises(FtbenchError, match="cannot compare with git ref"):
        build_report(load_config(site_board), base="no-such-ref")


def test_language_model_rows_show_perplexity_the_right_way_round(site_board):
    report = build_report(load_config(site_board), ids=["epsilon-prompted"])
    assert "prompted LM: prompting on `org/tiny-lm-gguf@" in report  # (an @ is defused)
    wiki = _row(report, "wiki")
    # zeta-sft's 1.0924 bits per byte beats epsilon's 1.2359: lower is better
    assert wiki[1] == "Bits per byte 1.2359 (95% CI 1.091–1.404; lower is better)"
    assert wiki[2].startswith("=1 of 2 (2nd by score; not significantly different from 1)")  # 4 documents
    assert wiki[3] == "=1 Zeta Sft 1.0924"
    sentiment = _row(report, "sentiment")
    assert sentiment[1].startswith("Accuracy 76.67 (95% CI ") and "lower is better" not in sentiment[1]


def test_flagged_or_other_hardware_figures_come_with_a_caveat(site_board):
    report = build_report(load_config(site_board), ids=["delta-head", "beta-full", "gamma-ia3"])
    delta = report.split("### Delta Head")[1].split("### ")[0]
    cells = _row(delta, "sentiment")[4:]
    # latency, throughput and model memory are measured (flagged); parameters and sizes are exact
    assert [c.endswith(" ⚑") for c in cells] == [True, True, True, False, False, False]
    caveat = next(line for line in delta.splitlines() if line.startswith("- ⚑ **sentiment**"))
    assert "measured on `cpu: Synthetic CPU @ 2.0GHz x2, 2 threads`;" in caveat and "not the board's" not in caveat
    assert "**cpu-contention**: other processes used a large share of the CPU" in caveat
    assert "**high-variation**: the repeats differ" in caveat and "no badge" in caveat
    beta = report.split("### Beta Full")[1].split("### ")[0]
    assert (
        _row(beta, "topics")[2] == "=1 of 2 (not significantly different from 1)"
    )  # the best score, but measured elsewhere: no badge
    assert (
        "- ⚑ **topics**: measured on `cuda: Synthetic H100`, not the board's reference "
        "`cpu: Synthetic CPU @ 2.0GHz x2, 2 threads`. Its latency"
    ) in beta
    assert "⚑" not in _row(beta, "sentiment")[4] and "**sentiment**" not in beta
    gamma = report.split("### Gamma Ia3")[1]
    assert "⚑" not in gamma  # measured on the reference profile, unflagged
    missing = _row(delta, "topics")  # no record: nothing to flag
    assert "⚑" not in " ".join(missing)


def test_a_caveat_escapes_the_profile_it_names(site_board):
    import json

    path = site_board / "results" / "delta-head" / "sentiment.json"
    record = json.loads(path.read_text())
    record["efficiency"]["hardware_profile"] = "<img src=x> `x` @someone"
    path.write_text(json.dumps(record))
    report = build_report(load_config(site_board), ids=["delta-head"])
    caveat = next(line for line in report.splitlines() if line.startswith("- ⚑ **sentiment**"))
    assert "<img" not in caveat and "@someone" not in caveat and "`x`" not in caveat
    assert escape("<img src=x> `x` @someone") in caveat
