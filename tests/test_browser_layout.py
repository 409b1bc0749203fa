"""The board at a glance on any screen, in a real browser (Chromium): ranking tables that fit
at 1440 px and turn into cards at 390 px, no page that scrolls sideways on a phone, menus that
open on screen and close, the 404 page under a sub-path and from disk, the column chooser and
sort order kept in the address, natural sorting of model names, dark-mode contrast."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import pytest
from test_browser import ROOT, SUB_PATH, _pages, _QuietHandler, browser, served, site  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def _open(browser, url: str, width: int, scheme: str = "light"):  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url)
    return context, page, errors


def test_the_ranking_fits_at_1440_px_with_its_efficiency_columns_in_view(browser, site):  # noqa: F811
    context, page, errors = _open(browser, site.as_uri() + "/tasks/sentiment.html", 1440)
    table, box = page.evaluate(
        "() => { const t = document.querySelector('#ranking'); return [t.scrollWidth, t.parentElement.clientWidth]; }"
    )
    assert table <= box, f"ranking {table} px wide in a {box} px container"
    headings = page.eval_on_selector_all(
        "#ranking thead th",
        "ths => ths.filter(t => t.offsetParent).map(t => [t.textContent.trim(), t.getBoundingClientRect().right])",
    )
    shown = [h for h, _ in headings]
    for wanted in ("Latency", "Throughput", "Model memory", "Trained parameters"):
        assert any(h.startswith(wanted) for h in shown), f"{wanted} not shown: {shown}"
    assert all(right <= 1440 for _, right in headings)
    assert not any(h.startswith("Macro F1") for h in shown)  # a secondary metric waits in the chooser
    assert errors == []
    context.close()


@pytest.mark.parametrize("width", [1440, 1024])
def test_each_task_cards_top_entries_fit_on_the_home_page(browser, site, width):  # noqa: F811
    """The home page's task cards show every column of their top entries, the cost last (its
    heading wraps), without scrolling inside the card."""
    context, page, _ = _open(browser, site.as_uri() + "/index.html", width)
    sizes = page.eval_on_selector_all(
        ".task-card table", "ts => ts.map(t => [t.scrollWidth, t.parentElement.clientWidth])"
    )
    assert sizes and all(wide <= box for wide, box in sizes), sizes
    context.close()


def test_at_1440_px_no_table_of_any_page_hides_columns_behind_a_scroll(browser, site):  # noqa: F811
    """Every table of every page, its folded parts opened, fits its box on a wide screen: a
    chart's data table (its axis titles wrap), a model's per-class figures (long label names
    break after an underscore), each task card of the home page."""
    wide = _found_on_every_page(
        browser,
        site,
        1440,
        """() => [...document.querySelectorAll('.table-scroll > table')]
        .filter(t => t.offsetParent && t.scrollWidth > t.parentElement.clientWidth)
        .map(t => `${t.className || t.id} ${t.scrollWidth} px in ${t.parentElement.clientWidth}`)""",
    )
    assert wide == []


def _found_on_every_page(browser, site, width: int, script: str) -> list[str]:  # noqa: F811
    """What ``script`` lists on each page of the site at ``width`` px, every folded part
    opened, as ``page: item``."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    found = []
    for rel in _pages(site):
        page.goto(site.as_uri() + "/" + rel)
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        found += [f"{rel}: {item}" for item in page.evaluate(script)]
    context.close()
    return found


def test_the_ranking_fits_at_1440_px_on_a_board_of_wide_figures(browser, tmp_path):  # noqa: F811
    """Thousands of MiB and examples a second, each with its measured range, badges and long
    method names (the build benchmark's synthetic board): the default columns still fit."""
    import sys

    from ftbench.config import load_config
    from ftbench.site import build_site

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_build import make_board

    make_board(tmp_path, 100, 1)
    build_site(load_config(tmp_path), workers=1)
    context, page, errors = _open(browser, (tmp_path / "site" / "tasks" / "task00.html").as_uri(), 1440)
    table, box = page.evaluate(
        "() => { const t = document.querySelector('#ranking'); return [t.scrollWidth, t.parentElement.clientWidth]; }"
    )
    assert table <= box, f"ranking {table} px wide in a {box} px container"
    assert errors == []
    context.close()


def test_no_page_scrolls_sideways_on_a_phone(browser, site):  # noqa: F811
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    wide = []
    for rel in _pages(site):
        page.goto(site.as_uri() + "/" + rel)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            wide.append(f"{rel}: {width} px")
    assert wide == []
    context.close()


def test_on_a_phone_no_caption_is_cut_by_its_tables_scroll_box(browser, site):  # noqa: F811
    """A table wider than the screen scrolls in its box; its caption stays inside the box's
    visible width (a confusion matrix's caption was cut at the right edge)."""
    cut = _found_on_every_page(
        browser,
        site,
        390,
        """() => [...document.querySelectorAll('.table-scroll caption')]
        .filter(c => c.offsetParent)
        .filter(c => c.getBoundingClientRect().width > c.closest('.table-scroll').clientWidth + 1)
        .map(c => c.textContent.slice(0, 40))""",
    )
    assert cut == []


def test_on_a_phone_the_adapters_merged_and_unmerged_figures_are_cards(browser, site):  # noqa: F811
    """Each figure a card, its name first, then merged, unmerged and their ratio under their
    headings: nothing beyond the screen's edge. At 1440 px it is a table of four columns."""
    context, page, _ = _open(browser, site.as_uri() + "/models/alpha-lora.html#task-sentiment", 390)
    table = page.locator("#task-sentiment table.unmerged")
    wide, box = table.evaluate("t => [t.scrollWidth, t.parentElement.clientWidth]")
    assert wide <= box, f"{wide} px in a {box} px box"
    row = table.locator("tbody tr").first
    name, merged = row.locator("th"), row.locator("td").first
    assert name.bounding_box()["y"] < merged.bounding_box()["y"]  # type: ignore[index]
    assert "Merged" in merged.evaluate("td => getComputedStyle(td, '::before').content")
    for cell in row.locator("td").all():
        right = cell.bounding_box()
        assert right is not None and right["x"] + right["width"] <= 390
    context.close()
    context, page, _ = _open(browser, site.as_uri() + "/models/alpha-lora.html#task-sentiment", 1440)
    assert page.locator("#task-sentiment table.unmerged thead th").first.is_visible()
    context.close()


def test_on_a_phone_a_weight_files_name_and_hash_wrap_inside_the_screen(browser, site):  # noqa: F811
    context, page, _ = _open(browser, site.as_uri() + "/models/alpha-lora.html", 390)
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    sizes = page.eval_on_selector_all("table.files", "ts => ts.map(t => [t.scrollWidth, t.parentElement.clientWidth])")
    assert sizes and all(wide <= box for wide, box in sizes), sizes
    context.close()


def test_on_a_phone_each_ranking_row_is_a_card_with_the_score_first(browser, site):  # noqa: F811
    context, page, _ = _open(browser, site.as_uri() + "/tasks/sentiment.html", 390, "dark")
    first = page.locator("#ranking tbody tr").first
    model, score = first.locator("td.model"), first.locator("td.primary")
    assert model.is_visible() and score.is_visible()
    box = score.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert model.bounding_box()["y"] < score.bounding_box()["y"]  # type: ignore[index]
    # every other figure keeps its heading beside it
    label = page.evaluate(
        "() => getComputedStyle(document.querySelector('#ranking tbody td.primary'), '::before').content"
    )
    assert "Accuracy" in label
    context.close()


def test_on_a_phone_the_home_pages_tables_show_every_rows_score(browser, site):  # noqa: F811
    """The overall ranking, the progress over time and each task's top entries: every row a
    card whose score lies on the screen (the top entries' scores were past its edge)."""
    context, page, _ = _open(browser, site.as_uri() + "/index.html", 390)
    for selector in ("#overall-table", "table.progress", "table.top"):
        rows = page.locator(f"{selector} tbody tr")
        assert rows.count() > 0, selector
        for row in rows.all():
            score = row.locator("td.primary")
            box = score.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (selector, row.inner_text())
            assert score.evaluate("td => getComputedStyle(td, '::before').content") not in ("none", "normal")
    context.close()


@pytest.mark.parametrize(
    "pages, selector",
    [
        ("tasks", "table.distribution"),
        ("compare", "table.pair"),
        ("models", "table.unmerged"),
        ("models", "table.weights"),
    ],
)
def test_on_a_phone_short_tables_fit_without_a_scroll_box(browser, site, pages, selector):  # noqa: F811
    """A task's label distribution (its bars narrower), a comparison's two rows (its headings
    wrap) and an adapter's merged and unmerged figures: no sideways scrolling for a few px."""
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    seen, wide = 0, []
    for path in sorted((site / pages).rglob("*.html")):
        page.goto(path.as_uri())
        for size in page.eval_on_selector_all(
            selector, "ts => ts.map(t => [t.scrollWidth, t.parentElement.clientWidth])"
        ):
            seen += 1
            if size[0] > size[1]:
                wide.append(f"{path.relative_to(site)}: {size[0]} px in {size[1]}")
    assert seen and wide == []
    context.close()


def test_the_tasks_menu_opens_on_screen_and_closes_on_escape_and_outside_clicks(browser, site):  # noqa: F811
    context, page, _ = _open(browser, site.as_uri() + "/index.html", 390)
    page.click("details.menu summary")
    menu = page.locator("details.menu ul")
    box = menu.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    page.keyboard.press("Escape")
    assert not page.evaluate("document.querySelector('details.menu').open")
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
    page.click("details.menu summary")
    page.mouse.click(200, 600)
    assert not page.evaluate("document.querySelector('details.menu').open")
    context.close()


@pytest.fixture(scope="module")
def not_found_server(site, tmp_path_factory):  # noqa: F811
    """The site under /ftbench/ on a server that answers every missing path with 404.html, as
    GitHub Pages does."""
    docroot = tmp_path_factory.mktemp("www404")
    shutil.copytree(site, docroot / SUB_PATH.strip("/"))

    class Pages(_QuietHandler):
        def send_error(self, code, message=None, explain=None):
            if code != 404:
                return super().send_error(code, message, explain)
            body = (docroot / SUB_PATH.strip("/") / "404.html").read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Pages, directory=str(docroot)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _styled(page) -> bool:
    return page.evaluate("getComputedStyle(document.querySelector('.site-header')).borderBottomStyle") == "solid"


def test_the_404_page_is_styled_and_links_home_under_a_sub_path_at_any_depth(browser, not_found_server):  # noqa: F811
    context, page, errors = _open(browser, not_found_server + SUB_PATH + "no/such/deep/page.html", 1000)
    assert page.locator("h1").inner_text() == "Page not found"
    assert _styled(page), "the stylesheet did not load"
    home = page.eval_on_selector("a.brand", "a => a.href")
    assert home == not_found_server + SUB_PATH + "index.html"
    page.click("a.brand")
    assert page.url == home and page.locator("h1").count() == 1
    assert [e for e in errors if "404" not in e] == []
    context.close()


def test_the_404_page_works_from_disk(browser, site):  # noqa: F811
    context, page, errors = _open(browser, site.as_uri() + "/404.html", 1000)
    assert _styled(page)
    assert page.eval_on_selector("a.brand", "a => a.href") == site.as_uri() + "/index.html"
    assert errors == []
    context.close()


def test_the_column_chooser_shows_columns_and_keeps_them_in_the_address(browser, served):  # noqa: F811
    context, page, _ = _open(browser, served + "tasks/sentiment.html", 1440)
    f1 = page.locator("#ranking thead th[data-opt=f1_macro]")
    assert not f1.is_visible()
    page.click("details.columns summary")
    page.check("details.columns input[value=f1_macro]")
    assert f1.is_visible() and "cols=f1_macro" in page.url
    page.goto(page.url)
    assert page.locator("#ranking thead th[data-opt=f1_macro]").is_visible()
    assert page.locator("#ranking tbody td[data-opt=f1_macro]").first.is_visible()
    context.close()


def test_a_sorted_view_can_be_linked_to(browser, served):  # noqa: F811
    context, page, _ = _open(browser, served + "tasks/sentiment.html", 1440)
    index = page.eval_on_selector_all(
        "#ranking thead th", "ths => ths.findIndex(t => t.textContent.trim().startsWith('Latency'))"
    )
    page.click(f"#ranking thead th >> nth={index} >> button")
    assert f"sort-ranking={index}." in page.url
    order = page.eval_on_selector_all(
        "#ranking tbody tr", "rows => rows.map(r => r.dataset.family + r.cells[1].textContent)"
    )
    page.goto(page.url)
    again = page.eval_on_selector_all(
        "#ranking tbody tr", "rows => rows.map(r => r.dataset.family + r.cells[1].textContent)"
    )
    assert again == order
    context.close()


def test_model_names_sort_as_people_read_them(browser, site, tmp_path):  # noqa: F811
    page_file = tmp_path / "sort.html"
    shutil.copy(site / "static" / "table.js", tmp_path / "table.js")
    rows = "".join(f"<tr><td>{n}</td></tr>" for n in ("LoRA r=32", "LoRA r=8", "lora r=16", "LoRA r=4"))
    page_file.write_text(
        '<!doctype html><table class="sortable" id="t"><thead><tr><th data-sort-type="text">Model</th></tr></thead>'
        f'<tbody>{rows}</tbody></table><script src="table.js"></script>',
        encoding="utf-8",
    )
    context, page, errors = _open(browser, page_file.as_uri(), 800)
    page.click("#t thead th button")
    names = page.eval_on_selector_all("#t tbody td", "tds => tds.map(t => t.textContent)")
    assert names == ["LoRA r=4", "LoRA r=8", "lora r=16", "LoRA r=32"]
    assert errors == []
    context.close()


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a, b) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_confusion_matrix_cells_keep_their_text_readable(browser, site, scheme):  # noqa: F811
    context, page, _ = _open(browser, site.as_uri() + "/models/alpha-lora.html", 1200, scheme)
    # every heat level, blended over the page background, against the cell's text colour
    cells = page.evaluate(
        """() => {
          const parse = s => s.match(/[\\d.]+/g).map(Number);
          const bg = parse(getComputedStyle(document.body).backgroundColor);
          const out = [];
          for (let i = 1; i <= 9; i++) {
            const td = document.createElement('td'); td.className = 'h' + i; td.textContent = '9';
            const table = document.createElement('table'); table.className = 'confusion';
            const tr = document.createElement('tr'); tr.appendChild(td); table.appendChild(tr);
            document.querySelector('main').appendChild(table);
            const [r, g, b, a = 1] = parse(getComputedStyle(td).backgroundColor);
            const blend = [r, g, b].map((c, k) => a * c + (1 - a) * bg[k]);
            out.push([blend, parse(getComputedStyle(td).color).slice(0, 3)]);
            table.remove();
          }
          return out;
        }"""
    )
    worst = min(_contrast(cell, text) for cell, text in cells)
    assert worst >= 4.5, f"{scheme}: a confusion cell's text contrast falls to {worst:.2f}:1"
    context.close()


def test_the_home_matrix_searches_and_filters(browser, served):  # noqa: F811
    context, page, _ = _open(browser, served + "index.html", 1440)
    rows = page.locator("#matrix tbody tr")
    total = rows.count()
    assert total >= 3
    page.fill("#matrix-h ~ .filters input[type=search]", "alpha")
    visible = page.eval_on_selector_all("#matrix tbody tr", "rs => rs.filter(r => !r.hidden).map(r => r.dataset.name)")
    assert visible and all("alpha" in name for name in visible) and len(visible) < total
    assert "q=alpha" in page.url
    # best of each column marked; a cell reads "k of N"
    assert page.locator("#matrix td.best").count() >= 1
    assert " of " in page.locator("#matrix td .rk").first.inner_text()
    # the matrix's filters and the overall ranking's keep apart in the address
    family = page.locator(".filters[data-table=matrix] select[data-filter=family] option").nth(1).inner_text()
    page.select_option(".filters[data-table=matrix] select[data-filter=family]", family)
    assert "matrix-family=" in page.url and "&family=" not in page.url and "?family=" not in page.url
    page.goto(page.url)  # reloaded from the link: the matrix keeps its choice, the ranking shows all
    assert page.input_value(".filters[data-table=matrix] select[data-filter=family]") == family
    assert page.input_value(".filters[data-table=overall-table] select[data-filter=family]") == ""
    context.close()


def test_the_home_matrix_filters_by_license(browser, served):  # noqa: F811
    context, page, _ = _open(browser, served + "index.html", 1440)
    options = page.eval_on_selector_all(
        ".filters[data-table=matrix] select[data-filter=license] option", "os => os.map(o => o.textContent)"
    )
    assert options == ["all", "apache-2.0", "mit"]
    page.select_option(".filters[data-table=matrix] select[data-filter=license]", "mit")
    shown = page.eval_on_selector_all("#matrix tbody tr", "rs => rs.filter(r => !r.hidden).map(r => r.dataset.name)")
    assert shown == ["gamma ia3"]
    assert "matrix-license=mit" in page.url
    context.close()
