"""The example browser, comparison and calibration pages' contexts, on outcomes small enough
to check by hand: which examples a page lists and in what order, how it pages, that its
right/wrong table is McNemar's, and that its data and drawings are safe and stable."""

from __future__ import annotations

import datetime as dt
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest

from ftbench.calibration import calibration
from ftbench.compare import Outcome, mcnemar
from ftbench.leaderboard import Entry, rank_entries
from ftbench.site.comparison import (
    BPB_SCALE,
    compare_links,
    compared,
    comparison_context,
    disagreements,
    document_rows,
    pair_intervals,
    two_by_two,
)
from ftbench.site.examples import (
    PAGE_SIZE,
    confusion_table,
    examples_context,
    has_examples,
    most_confident_first,
    permille,
    script_json,
    task_data,
    top_cells,
)
from ftbench.site.reliability import calibration_view, reliability_svg
from ftbench.site.tables import top_confusions
from ftbench.tasks import Examples
from ftbench.testing import write_task

LABELS = ["red", "green", "blue"]
#        0  1  2  3  4  5
GOLD = [0, 1, 2, 0, 1, 2]
A = [0, 1, 2, 1, 2, 0]  # right on 0, 1, 2
B = [0, 2, 1, 2, 1, 2]  # right on 0, 4, 5; on 3 both wrong, with different labels


def outcome(pred, prob=None) -> Outcome:
    prob = [0.9] * len(pred) if prob is None else prob
    return Outcome(pred=np.asarray(pred, dtype=np.int16), prob=np.asarray(prob, dtype=np.float32))


def examples_of(gold) -> Examples:
    return Examples(tuple(range(100, 100 + len(gold))), tuple(f"text {i}" for i in range(len(gold))), tuple(gold))


# ------------------------------------------------------------------ what differs


def test_the_right_wrong_table_is_mcnemars_and_counts_by_hand():
    table = two_by_two(outcome(A), outcome(B), GOLD)
    # both right: 0; only A: 1, 2; only B: 4, 5; both wrong: 3
    assert (table.both_right, table.only_a, table.only_b, table.both_wrong) == (1, 2, 2, 1)
    truth = np.asarray(GOLD)
    assert table == mcnemar(np.asarray(A) == truth, np.asarray(B) == truth)


def test_disagreements_include_examples_both_get_wrong_differently():
    a, b = outcome(A, [0.5, 0.6, 0.7, 0.8, 0.55, 0.95]), outcome(B, [0.9, 0.65, 0.2, 0.3, 0.9, 0.4])
    order = disagreements(a, b)
    # every example but 0 differs; by the higher confidence: 5 (0.95), 4 (0.9), 3 (0.8), 2 (0.7), 1 (0.65)
    assert order.tolist() == [5, 4, 3, 2, 1]
    table = two_by_two(a, b, GOLD)
    assert len(order) == table.only_a + table.only_b + 1  # example 3: both wrong, different labels


def test_two_label_disagreements_are_exactly_the_discordant_pairs():
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 2, 200)
    a, b = outcome(rng.integers(0, 2, 200)), outcome(rng.integers(0, 2, 200))
    table = two_by_two(a, b, gold)
    assert len(disagreements(a, b)) == table.only_a + table.only_b


def test_most_confident_first_breaks_ties_in_file_order():
    conf = permille(np.array([0.5, 0.9, 0.9004, 0.1, 0.9], dtype=np.float32))
    assert conf.tolist() == [500, 900, 900, 100, 900]  # the page's precision: 90.0% all three
    assert most_confident_first(np.arange(5), conf).tolist() == [1, 2, 4, 0, 3]


def test_documents_come_largest_difference_first():
    docs = {
        "loglik": np.array([-10.0, -20.0, -30.0]) * np.log(2),
        "bytes": np.array([10.0, 10.0, 10.0]),
        "tokens": np.ones(3),
        "words": np.ones(3),
    }
    other = {**docs, "loglik": np.array([-12.0, -20.0, -25.0]) * np.log(2)}
    rows = document_rows(Outcome(documents=docs), Outcome(documents=other))
    # bits per byte: a = 1, 2, 3; b = 1.2, 2, 2.5: differences -0.2, 0, +0.5
    assert [r[0] for r in rows] == [2, 0, 1]
    assert rows[0] == [2, 10, 3 * BPB_SCALE, int(2.5 * BPB_SCALE)]


def test_model_pages_link_the_leader_and_both_neighbours():
    order, names = ["a", "b", "c", "d"], ["A", "B", "C", "D"]
    links = compare_links("t", order, names, "c")
    assert [(r, n) for r, n, _ in links] == [("the leader", "A"), ("the entry above", "B"), ("the entry below", "D")]
    assert [u for _, _, u in links] == ["compare/t/a--c.html", "compare/t/b--c.html", "compare/t/c--d.html"]
    assert compare_links("t", order, names, "zz") == []


# ------------------------------------------------------------------ pages


@pytest.fixture
def task(tmp_path):
    gold = [i % 3 for i in range(130)]
    return write_task(tmp_path, "colours", LABELS, gold), examples_of(gold)


def _entries(gold, accuracies):
    rng = np.random.default_rng(11)
    out = []
    for k, acc in enumerate(accuracies):
        pred = np.where(rng.random(len(gold)) < acc, gold, (np.asarray(gold) + 1 + rng.integers(0, 2, len(gold))) % 3)
        prob = np.round(rng.uniform(0.34, 1.0, len(gold)), 4)
        o = outcome(pred, prob)
        value = float(np.mean(pred == gold))
        out.append(Entry(f"s{k}", f"<b>S{k}</b>", "lora", "base", "2026-01-01", {"accuracy": value}, {}, outcome=o))
    return out


def test_a_comparison_page_pages_its_disagreements_and_states_its_test(task):
    t, examples = task
    rows = rank_entries(_entries(list(examples.labels), [0.9, 0.5, 0.45]), "accuracy", examples.labels, 3)
    assert compared(rows) == [(0, 1), (0, 2), (1, 2)]
    context = comparison_context(t, rows, 0, 1, examples, {})
    a, b = rows[0].entry.outcome, rows[1].entry.outcome
    differ = int(np.sum(a.pred != b.pred))
    assert context["disagree"] == differ > PAGE_SIZE
    assert len(context["rows"]) == PAGE_SIZE  # the first page as HTML, the rest as data
    data = json.loads(str(context["data"]))
    assert len(data["rows"]) == differ and data["kind"] == "labels"
    assert [r[0] for r in data["rows"][:PAGE_SIZE]] == [d.row - 100 for d in context["rows"]]
    assert context["table"] == mcnemar(a.pred == np.asarray(examples.labels), b.pred == np.asarray(examples.labels))
    stats = rows[0].comparisons
    assert context["test"]["method"] == stats.method == "McNemar exact"
    assert context["table_p"] == context["test"]["p_raw"]  # the test is the table's
    assert float(stats.p_holm[0, 1]) >= float(stats.p_raw[0, 1])
    low, high = stats.difference(0, 1)
    assert context["difference"]["low"].startswith("+" if low > 0 else "−")
    assert low <= rows[0].entry.value("accuracy") - rows[1].entry.value("accuracy") <= high


def test_the_intervals_of_many_pairs_are_each_pairs_own(task):
    _, examples = task
    rows = rank_entries(_entries(list(examples.labels), [0.9, 0.5, 0.45, 0.7]), "accuracy", examples.labels, 3)
    stats = rows[0].comparisons
    pairs = [(0, 1), (0, 3), (2, 1), (3, 2)]
    assert pair_intervals(stats, pairs) == [stats.difference(i, j) for i, j in pairs]
    assert pair_intervals(stats, []) == []


def test_no_comparison_pages_without_paired_tests(task):
    _, examples = task
    entries = _entries(list(examples.labels), [0.9, 0.5])
    rows = rank_entries([*entries[:1], Entry("x", "X", "lora", "b", "2026-01-01", {"accuracy": 0.1}, {})], "accuracy")
    assert rows[0].comparisons is None and compared(rows) == []


def test_an_example_browser_shows_its_most_confident_errors_first(task):
    t, examples = task
    o = _entries(list(examples.labels), [0.3])[0].outcome
    made = SimpleNamespace(finished_at="2026-02-03T04:05:06+00:00")
    loaded = SimpleNamespace(outcome=o, record=SimpleNamespace(task=SimpleNamespace(labels=LABELS), provenance=made))
    sub = SimpleNamespace(spec=SimpleNamespace(name="<i>Model</i>", id="m", date=dt.date(2026, 1, 5)))
    context = examples_context(t, sub, loaded, examples, {})
    assert context["updated"] == "2026-02-03"  # the record is newer than the submission
    gold, pred = np.asarray(examples.labels), o.pred.astype(int)
    wrong = np.flatnonzero(pred != gold)
    assert context["errors"] == len(wrong) > PAGE_SIZE
    rows = context["rows"]
    assert len(rows) == PAGE_SIZE and not any(r.right for r in rows)
    conf = [float(r.confidence.rstrip("%")) for r in rows]
    assert conf == sorted(conf, reverse=True)
    assert min(conf) >= max(100 * o.prob[i] for i in wrong if i + 100 not in {r.row for r in rows}) - 0.05
    data = json.loads(str(context["data"]))
    assert data["pred"] == pred.tolist() and data["conf"] == permille(o.prob).tolist()
    matrix = np.zeros((3, 3), int)
    np.add.at(matrix, (gold, pred), 1)
    for g in range(3):  # every non-empty cell links to itself on the page
        for p in range(3):
            if matrix[g, p]:
                assert f'<a href="#cell={g}-{p}" id="cell={g}-{p}">{matrix[g, p]}</a>' in str(context["matrix"])


def test_only_records_with_aligned_predictions_get_a_browser():
    examples = examples_of(GOLD)
    assert has_examples(outcome(A), examples)
    assert not has_examples(outcome(A[:5]), examples)
    assert not has_examples(None, examples) and not has_examples(outcome(A), None)
    assert not has_examples(Outcome(documents={"loglik": np.zeros(6)}), examples)


def test_the_matrix_links_its_cells_and_escapes_its_labels():
    labels = ["<b>", "ok"]
    plain = str(confusion_table(labels, [[3, 0], [1, 2]]))
    assert "<a " not in plain and "&lt;b&gt;" in plain and "<b>" not in plain
    linked = str(confusion_table(labels, [[3, 0], [1, 2]], link="../models/x/t.html"))
    assert '<a href="../models/x/t.html#cell=1-0">1</a>' in linked
    assert "#cell=0-1" not in linked  # an empty cell has no examples to show
    assert confusion_table(["l"] * 21, [[0] * 21] * 21) is None


def test_top_cells_agree_with_the_model_pages_top_confusions():
    rng = np.random.default_rng(5)
    matrix = rng.integers(0, 4, (25, 25)).tolist()
    labels = [f"l{i}" for i in range(25)]
    assert [(labels[g], labels[p], c) for g, p, c in top_cells(matrix, 10)] == top_confusions(labels, matrix, 10)
    assert top_cells(matrix, 20)[:10] == top_cells(matrix, 10)  # the browser's list extends the page's


def test_task_data_is_one_safe_script_statement(tmp_path):
    t = write_task(tmp_path, "odd", ["</script>", "b"], [0, 1])
    examples = Examples((0, 5), ("<!-- \u2028 --> </script><script>alert(1)</script>", "fine"), (0, 1))
    text = task_data(t, examples).decode()
    assert "</script" not in text and "<!--" not in text and "\u2028" not in text
    m = re.fullmatch(r'\(window\.FTB_TASKS = window\.FTB_TASKS \|\| \{\}\)\["odd"\] = (.*);\n', text, re.S)
    assert m
    payload = json.loads(m.group(1))
    assert payload == {"gold": [0, 1], "idx": [0, 5], "labels": ["</script>", "b"], "texts": list(examples.texts)}
    assert str(script_json(["&", ">"])) == '["\\u0026","\\u003e"]'


# ------------------------------------------------------------------ calibration


def test_the_reliability_diagram_draws_every_used_bin_and_is_stable():
    rng = np.random.default_rng(2)
    conf = rng.uniform(0.3, 1.0, 500)
    right = rng.random(500) < conf
    cal = calibration(conf, right)
    svg = str(reliability_svg(cal, "rel-x", "Reliability <x>"))
    used = [b for b in cal.bins if b.count]
    assert svg.count('<g class="bin">') == len(used)
    assert sum(int(n.replace(",", "")) for n in re.findall(r": ([\d,]+) examples, ", svg)) == 500
    assert '<title id="rel-x-t">Reliability &lt;x&gt;</title>' in svg and 'role="img"' in svg
    assert str(reliability_svg(cal, "rel-x", "Reliability <x>")) == svg


@pytest.mark.parametrize("labels, top", [(2, False), (5, True)])
def test_calibration_figures_say_top_label_beyond_two_labels(labels, top):
    cal = calibration(np.array([0.9, 0.8, 0.6]), np.array([1, 1, 0]))
    view = calibration_view(cal, labels, "c", "T")
    names = [name for name, _, _ in view.figures]
    assert view.top_label is top
    assert [name.startswith("Top-label") for name in names] == [top] * 3
    assert [row[1] for row in view.bins] == ["1", "1", "1"]
