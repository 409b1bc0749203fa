"""The example browsers and comparison pages in a real browser (headless Chromium, from
file://): a confusion cell lists exactly its examples, pages move, a comparison's filters
split its disagreements as its right/wrong table does, and every page works without console
errors, without JavaScript, and on a 390 px screen in both colour schemes.

The board is the site tests' board plus one task large enough to page through (130 examples,
three labels) with two submissions on it. Skipped as the other browser tests are.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_browser import SCREENSHOTS, browser  # noqa: F401  (the shared Chromium fixture)

from ftbench.config import load_config
from ftbench.metrics import bootstrap_intervals, confusion_counts
from ftbench.record import ResultRecord, dumps
from ftbench.site import build_site
from ftbench.testing import scores_from_confusion, submission_spec, write_submission, write_task
from site_fixtures import make_site_board, write_record

pytestmark = pytest.mark.browser

LABELS = ["calm", "glad", "sad"]
GOLD = [(i * 7) % 3 for i in range(130)]
EXAMPLES = "models/big-one/colours.html"
COMPARE = "compare/colours/big-one--big-two.html"


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> Path:
    root = make_site_board(tmp_path_factory.mktemp("examples") / "board")
    task = write_task(root, "colours", LABELS, GOLD)
    for sub_id, accuracy, seed in (("big-one", 0.8, 21), ("big-two", 0.55, 22)):
        spec = write_submission(root, submission_spec(sub_id, ["colours"], date="2026-02-05"), card="# Big\n")
        path = write_record(root, spec, task, GOLD, accuracy, seed, latency_ms=3.0, model_memory_mb=800.0)
    _mistake_differently(path, task.metrics)
    return root


def _mistake_differently(path: Path, metrics) -> None:
    """The synthetic records' mistakes are all "the next label"; make every other one of this
    record's the label after that (and its numbers match again), so that the two entries can
    both be wrong with different labels."""
    record = json.loads(path.read_text())
    pred = record["predictions"]["pred"]
    wrong = [i for i, (p, g) in enumerate(zip(pred, GOLD, strict=True)) if p != g]
    for i in wrong[::2]:
        pred[i] = (GOLD[i] + 2) % len(LABELS)
    matrix = confusion_counts(GOLD, pred, len(LABELS))
    scores, per_class = scores_from_confusion(matrix, LABELS)
    spec = record["intervals"]
    spec["bounds"] = bootstrap_intervals(
        metrics, GOLD, pred, len(LABELS), spec["resamples"], spec["level"], spec["seed"]
    )
    record.update(metrics={m: scores[m] for m in metrics}, per_class=per_class, confusion_matrix=matrix.tolist())
    path.write_text(dumps(ResultRecord.model_validate(record)))


@pytest.fixture(scope="module")
def site(board) -> Path:
    config = load_config(board)
    build_site(config)
    return config.site_dir


def _predictions(board: Path, sub: str) -> list[int]:
    return json.loads((board / "results" / sub / "colours.json").read_text())["predictions"]["pred"]


@pytest.fixture
def page(browser, site):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.errors = []
    tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: tab.errors.append(str(e)))
    tab.open = lambda rel: tab.goto(site.as_uri() + "/" + rel)
    yield tab
    assert tab.errors == []
    context.close()


def _all_rows(page, table: str) -> list[list[str]]:
    """Every row the filters select, page by page (cells' text)."""
    rows = []
    while True:
        rows += page.eval_on_selector_all(
            f"{table} tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent))"
        )
        nxt = page.locator(".pager button", has_text="Next")
        if page.is_hidden(".pager") or nxt.is_disabled():
            return rows
        nxt.click()


def _shown_total(page) -> int:
    m = re.search(r"of (\d+) ", page.inner_text(".browser .count"))
    return int(m.group(1)) if m else 0


def test_a_confusion_cell_lists_exactly_its_examples(page, board):
    pred = _predictions(board, "big-one")
    page.open(EXAMPLES)
    cells = page.eval_on_selector_all(
        "table.confusion a[href^='#cell=']", "as => as.map(a => [a.getAttribute('href'), +a.textContent])"
    )
    assert len(cells) >= 5  # the diagonal and some confusions
    for href, count in cells:
        g, p = map(int, href.removeprefix("#cell=").split("-"))
        page.click(f"table.confusion a[href='{href}']")
        assert _shown_total(page) == count
        rows = _all_rows(page, "#examples-table")
        assert len(rows) == count
        expected = {i for i in range(len(GOLD)) if GOLD[i] == g and pred[i] == p}
        assert {int(r[0]) for r in rows} == expected
        for row_id, text, gold, predicted, _ in rows:
            assert text == f"example {row_id}" and gold == LABELS[g] and predicted.split(" ")[0] == LABELS[p]
            assert ("✗" in predicted) is (g != p)


def test_the_model_pages_matrix_opens_the_browser_on_its_cell(page, board):
    pred = _predictions(board, "big-one")
    page.open("models/big-one.html")
    link = page.locator("#task-colours table.confusion a").nth(1)
    count, href = int(link.inner_text()), link.get_attribute("href")
    g, p = map(int, href.split("#cell=")[1].split("-"))
    link.click()
    page.wait_for_load_state()
    assert page.url.endswith(EXAMPLES + href[href.index("#") :])
    assert _shown_total(page) == count == sum(1 for i in range(len(GOLD)) if (GOLD[i], pred[i]) == (g, p))
    assert page.input_value("select[data-filter=gold]") == str(g)
    assert page.input_value("select[data-filter=outcome]") == ""


def test_pages_move_and_filters_combine(page, board):
    page.open(EXAMPLES)
    errors = _shown_total(page)
    assert errors == sum(1 for g, p in zip(GOLD, _predictions(board, "big-one"), strict=True) if g != p)
    page.select_option("select[data-filter=outcome]", "")
    assert page.inner_text(".browser .count") == "Showing 1–50 of 130 examples."
    first = page.inner_text("#examples-table tbody tr >> nth=0")
    assert page.is_disabled(".pager button >> nth=0") and page.inner_text(".pager .where") == "Page 1 of 3"
    page.click(".pager button >> text=Next")
    assert page.inner_text(".browser .count") == "Showing 51–100 of 130 examples."
    assert page.inner_text("#examples-table tbody tr >> nth=0") != first
    page.click(".pager button >> text=Next")
    assert page.inner_text(".browser .count") == "Showing 101–130 of 130 examples."
    assert page.is_disabled(".pager button >> text=Next")
    assert page.locator("#examples-table tbody tr").count() == 30
    page.select_option("select[data-filter=low]", "90")  # a filter goes back to the first page
    confidences = [float(r[4].rstrip("%")) for r in _all_rows(page, "#examples-table")]
    assert confidences and min(confidences) >= 90.0 and confidences == sorted(confidences, reverse=True)
    page.select_option("select[data-filter=order]", "file")
    ids = [int(r[0]) for r in _all_rows(page, "#examples-table")]
    assert ids == sorted(ids) and len(ids) == len(confidences)


def test_many_labels_list_their_top_confusions_as_filters(page, board):
    page.open("models/alpha-lora/intents.html")
    assert page.locator("table.confusion").count() == 0
    listed = page.eval_on_selector_all(
        "table.confusions tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent))"
    )
    assert len(listed) >= 5
    for k, (gold, pred, count) in enumerate(listed):
        page.click(f"table.confusions tbody tr >> nth={k} >> a")
        rows = _all_rows(page, "#examples-table")
        assert len(rows) == int(count) == _shown_total(page)
        assert all(r[2] == gold and r[3].startswith(pred + " ") for r in rows)


def test_a_comparisons_filters_split_its_disagreements_as_its_table_does(page, board):
    a, b = _predictions(board, "big-one"), _predictions(board, "big-two")
    page.open(COMPARE)
    cells = [
        int(t.replace(",", ""))
        for t in page.eval_on_selector_all("table.twobytwo td", "t => t.map(c => c.textContent)")
    ]
    both_right, only_a, _, only_b, both_wrong = cells[:5]
    differ = sum(1 for x, y in zip(a, b, strict=True) if x != y)
    assert _shown_total(page) == differ == len(_all_rows(page, "#disagreements-table"))
    assert differ > only_a + only_b  # three labels: some examples both get wrong, differently
    for which, expected in (("a", only_a), ("b", only_b), ("neither", differ - only_a - only_b)):
        page.select_option("select[data-filter=which]", which)
        rows = _all_rows(page, "#disagreements-table")
        assert len(rows) == expected
        for row in rows:
            right_a, right_b = "✓" in row[3], "✓" in row[4]
            assert (right_a, right_b) == {"a": (True, False), "b": (False, True), "neither": (False, False)}[which]
    assert both_right + only_a + only_b + both_wrong == len(GOLD)
    assert page.locator(f"a[href='../../{EXAMPLES}']").count() == 1  # back to both pages and the task
    assert page.locator("a[href='../../models/big-two.html']").count() >= 1
    assert page.locator("main .crumbs a[href='../../tasks/colours.html']").count() == 1


def test_without_javascript_the_first_rows_are_there(browser, site, board):  # noqa: F811
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(site.as_uri() + "/" + EXAMPLES)
    pred = _predictions(board, "big-one")
    errors = sum(1 for g, p in zip(GOLD, pred, strict=True) if g != p)
    rows = page.eval_on_selector_all(
        "#examples-table tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent))"
    )
    assert len(rows) == min(50, errors) and all("✗" in r[3] for r in rows)
    confidences = [float(r[4].rstrip("%")) for r in rows]
    assert confidences == sorted(confidences, reverse=True)
    assert not page.is_visible(".filters") and not page.is_visible(".pager")
    assert page.locator("table.confusion a").count() >= 5
    page.goto(site.as_uri() + "/" + COMPARE)
    assert page.locator("#disagreements-table tbody tr").count() == min(50, _shown_static(page))
    context.close()


def _shown_static(page) -> int:
    return int(re.search(r"of ([\d,]+)", page.inner_text(".browser .count")).group(1).replace(",", ""))


@pytest.mark.parametrize(
    "name, path",
    [
        ("examples", EXAMPLES),
        ("examples-many-labels", "models/alpha-lora/intents.html"),
        ("compare", COMPARE),
        ("compare-documents", "compare/wiki/zeta-sft--epsilon-prompted.html"),
        ("model-calibration", "models/big-one.html"),
    ],
)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_pages_fit_a_phone_in_both_schemes_without_console_errors(browser, site, name, path, scheme):  # noqa: F811
    context = browser.new_context(color_scheme=scheme, viewport={"width": 390, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.goto(site.as_uri() + "/" + path, wait_until="networkidle")
    if name.startswith("examples"):
        assert page.is_visible(".filters")  # the script ran
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{scheme}-390.png"), full_page=True)
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()
    assert errors == []
    assert fits


def test_the_reliability_diagram_is_drawn_and_named(page):
    page.open("models/big-one.html")
    svg = page.locator("#task-colours svg.reliability")
    assert svg.is_visible() and svg.get_attribute("role") == "img"
    label = svg.get_attribute("aria-labelledby").split()
    assert page.locator(f"[id='{label[0]}']").text_content().startswith("Reliability diagram")
    bins = svg.locator("g.bin")
    titles = [bins.nth(k).locator("title").text_content() for k in range(bins.count())]
    counts = [int(re.search(r": ([\d,]+) examples", t).group(1).replace(",", "")) for t in titles]
    assert sum(counts) == len(GOLD)
    figures = page.inner_text("#task-colours .calibration table.kv")
    assert "Top-label ECE" in figures and "Top-label Brier score" in figures  # three labels


def test_on_a_phone_a_long_label_wraps_inside_its_example_card(browser, site):  # noqa: F811
    """Banking77's label names run to 48 characters with no space: in an example's card the
    gold and predicted labels wrap inside the screen (they ran past its edge)."""
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    page.goto(site.as_uri() + "/models/alpha-lora/intents.html", wait_until="networkidle")
    cell = page.locator("#examples-table tbody tr td[data-label='Gold']").first
    cell.evaluate("td => { td.textContent = 'balance_not_updated_after_cheque_or_cash_deposit'; }")
    box = cell.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390
    assert cell.evaluate("td => td.scrollWidth <= td.clientWidth")  # no text beyond the card's column
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()
