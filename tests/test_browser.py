"""The built site in a real browser: headless Chromium driven by playwright, opened from disk
(file://) and served under a sub-path by a local HTTP server, as on a GitHub Pages project site.

Skipped when Chromium or playwright is missing, unless CI=true (then they fail instead).
Screenshots go to artifacts/screenshots/ (kept by CI).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

from ftbench.config import load_config
from ftbench.site import build_site
from site_fixtures import ROOT, make_site_board

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("FTBENCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
SUB_PATH = "/ftbench/"


def _unavailable() -> str | None:
    if not Path(CHROMIUM).is_file():
        return f"Chromium not found at {CHROMIUM} (bash .ci/install-browser, or set FTBENCH_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _unavailable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = make_site_board(tmp_path_factory.mktemp("browser") / "board")
    config = replace(load_config(root), base_url=SUB_PATH)
    build_site(config)
    return config.site_dir


@pytest.fixture(scope="module")
def served(site, tmp_path_factory) -> str:
    """The site served by http.server at http://127.0.0.1:<port>/ftbench/."""
    docroot = tmp_path_factory.mktemp("www")
    shutil.copytree(site, docroot / SUB_PATH.strip("/"))
    handler = functools.partial(_QuietHandler, directory=str(docroot))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}{SUB_PATH}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _pages(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))


def crawl(browser, base: str, pages: list[str]) -> dict:
    """Open every page; collect console errors, failed requests, element ids and links."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    ids, links = {}, {}
    for rel in pages:
        before = len(errors)
        page.goto(base + rel, wait_until="networkidle")
        errors[before:] = [f"{rel}: {e}" for e in errors[before:]]
        ids[rel] = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        links[rel] = page.eval_on_selector_all(
            "a[href], link[href], script[src]",
            "els => els.map(e => new URL(e.getAttribute('href') ?? e.getAttribute('src'), document.baseURI).href)",
        )
    page.close()
    return {"errors": errors, "ids": ids, "links": links}


@pytest.fixture(scope="module", params=["file", "http"])
def crawled(request, browser, site, served):
    if request.param == "file":
        base = site.as_uri() + "/"
        pages = _pages(site)  # 404.html too: its links are relative until a server shows it
    else:
        base, pages = served, _pages(site)
    return request.param, base, site, crawl(browser, base, pages)


def test_every_page_loads_without_console_errors(crawled):
    _mode, _, site, result = crawled
    assert len(result["ids"]) >= len(_pages(site))
    assert result["errors"] == []


def test_every_internal_link_and_asset_resolves(crawled, browser):
    mode, base, site, result = crawled
    checked = 0
    for rel, urls in result["links"].items():
        for url in urls:
            target, fragment = urldefrag(url)
            if not target.startswith(base):
                assert urlparse(url).scheme in {"http", "https", "mailto"}, f"{rel}: {url} leaves the site"
                continue
            path = unquote(target[len(base) :])
            assert (site / path).is_file(), f"{rel}: {url} does not resolve"
            if fragment:
                assert fragment in result["ids"][path or "index.html"], f"{rel}: no #{fragment} in {path}"
            checked += 1
    assert checked > 100
    if mode == "http":  # and the server really serves the downloads under the sub-path
        page = browser.new_page()
        response = page.request.get(base + "downloads/sentiment/leaderboard.csv")
        assert response.status == 200 and response.text().startswith(
            "rank,rank_plausible_low,rank_plausible_high,submission"
        )
        page.close()


def _column(page, index: int) -> list[str]:
    """The visible rows' values in one column (its data-sort value, else its text)."""
    script = (
        "(rows, i) => rows.filter(r => !r.hidden).map(r => r.cells[i].dataset.sort ?? r.cells[i].textContent.trim())"
    )
    return page.eval_on_selector_all("#ranking tbody tr", script, index)


def _header_index(page, label: str) -> int:
    script = "(ths, label) => ths.findIndex(t => t.textContent.trim().startsWith(label))"
    return page.eval_on_selector_all("#ranking thead th", script, label)


def _click_header(page, index: int) -> None:
    page.click(f"#ranking thead th >> nth={index} >> button")


def test_sorting_by_any_numeric_column(browser, served):
    page = browser.new_page()
    page.goto(served + "tasks/sentiment.html")
    latency = _header_index(page, "Latency (batch 1")
    _click_header(page, latency)
    values = [float(v) for v in _column(page, latency)]
    assert values == sorted(values) and len(values) == 6  # lower is better: ascending first
    assert page.get_attribute(f"#ranking thead th >> nth={latency}", "aria-sort") == "ascending"
    _click_header(page, latency)
    assert [float(v) for v in _column(page, latency)] == sorted(values, reverse=True)
    throughput = _header_index(page, "Throughput")
    _click_header(page, throughput)
    speeds = [float(v) for v in _column(page, throughput)]
    assert speeds == sorted(speeds, reverse=True)  # higher is better: descending first
    page.close()


def test_filtering_by_method_and_base_model(browser, served):
    page = browser.new_page()
    page.goto(served + "tasks/sentiment.html")
    assert page.is_visible(".filters")
    page.select_option("select[data-filter=method]", "lora")
    method = _header_index(page, "Method")
    assert _column(page, method) == ["lora"]
    assert page.inner_text(".filters .count") == "1 of 6 shown"
    page.select_option("select[data-filter=method]", "")
    page.select_option("select[data-filter=base]", "./model")
    assert _column(page, _header_index(page, "Model")) == ["Beta Full", "Zeta Sft"]  # sorted by name
    page.close()


def test_filtering_by_family_and_linking_to_the_filtered_view(browser, served):
    page = browser.new_page()
    page.goto(served + "tasks/sentiment.html")
    family, model = _header_index(page, "Family"), _header_index(page, "Model")
    assert _column(page, family) == [
        "encoder fine-tune",
        "encoder fine-tune",
        "prompted LM",
        "tuned LM",
        "encoder fine-tune",
        "encoder fine-tune",
    ]
    page.select_option("select[data-filter=family]", "prompted LM")
    assert _column(page, model) == ["Epsilon Prompted"] and _column(page, 0) == ["1"]  # its (shared) rank
    assert page.inner_text(".filters .count") == "1 of 6 shown"
    assert page.url.endswith("tasks/sentiment.html?family=prompted+LM")  # the view can be linked to
    page.select_option("select[data-filter=family]", "encoder fine-tune")
    assert _column(page, model) == [
        "Beta Full",
        "Alpha Lora",
        "Gamma Ia3",
        "Delta Head",
    ]
    page.select_option("select[data-filter=method]", "lora")  # filters combine
    assert _column(page, model) == ["Alpha Lora"]
    page.goto(served + "tasks/wiki.html?family=tuned%20LM")  # a link opens the filtered view
    assert page.input_value("select[data-filter=family]") == "tuned LM"
    assert _column(page, _header_index(page, "Model")) == ["Zeta Sft"]
    page.goto(served + "index.html?family=tuned%20LM")
    names = page.eval_on_selector_all(
        "#overall-table tbody tr", "rows => rows.filter(r => !r.hidden).map(r => r.cells[1].textContent.trim())"
    )
    assert names == ["Zeta Sft"] and page.inner_text(".filters[data-table=overall-table] .count") == "1 of 4 shown"
    page.close()


def test_without_javascript_the_table_is_complete_and_ranked(browser, site):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(site.as_uri() + "/tasks/sentiment.html")
    cells = page.eval_on_selector_all(
        "#ranking tbody tr", "rows => rows.map(r => [Number(r.cells[0].dataset.sort), r.cells[0].textContent.trim()])"
    )
    ranks = [rank for rank, _ in cells]
    assert len(ranks) == 6 and ranks[0] == 1 and ranks == sorted(ranks)  # in ranking order
    for rank, text in cells:  # a shared rank reads "=k"
        assert text.startswith(f"={rank}" if ranks.count(rank) > 1 else str(rank))
    assert not page.is_visible(".filters")
    assert page.locator(".scatter svg.chart").count() == 2 * 2  # the charts (wide and narrow) need no script either
    context.close()


def test_dark_mode_print_and_small_screens(browser, site):
    context = browser.new_context(color_scheme="dark", viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.goto(site.as_uri() + "/index.html")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(17, 20, 24)"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.emulate_media(media="print")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
    assert not page.is_visible(".site-header nav")
    context.close()


def test_flag_markers_name_their_flags_and_the_distribution_is_visible(browser, served):
    page = browser.new_page()
    page.goto(served + "tasks/sentiment.html")
    row = page.locator("#ranking tbody tr", has=page.locator('a[href$="models/delta-head.html"]'))
    flags = row.locator(".flag")
    assert flags.count() == 3 and flags.first.is_visible()
    title = flags.first.get_attribute("title")
    assert title.startswith("Flagged, not compared: high-variation: ") and "cpu-contention: other processes" in title
    assert flags.first.get_attribute("role") == "img"  # its title is its accessible name
    assert page.locator('#ranking a[href$="models/alpha-lora.html"] >> xpath=ancestor::tr >> .flag').count() == 0
    assert page.is_visible("p.compared") and "Efficiency compared on: cpu: Synthetic CPU" in page.inner_text(
        "p.compared"
    )
    assert page.locator("svg.scatter-wide .flagged-pt").count() == 2  # delta-head on both charts
    page.goto(served + "models/alpha-lora.html#task-sentiment")
    dist = page.locator("#task-sentiment table.dist")
    assert dist.is_visible() and "Median (p50)" in dist.inner_text() and "p90 · p95 · p99" in dist.inner_text()
    assert page.locator("#task-sentiment table.unmerged").is_visible()
    page.goto(served + "models/alpha-lora.html#task-intents")  # a record from before the method
    assert "not measured" in page.locator("#task-intents table.dist").inner_text()
    page.close()


@pytest.mark.parametrize(
    "name, path, scheme, width",
    [
        ("home", "index.html", "light", 1280),
        ("task", "tasks/sentiment.html", "light", 1280),
        ("model", "models/alpha-lora.html", "light", 1280),
        ("model-wide", "models/alpha-lora.html", "light", 1440),
        ("model-dark-mobile", "models/alpha-lora.html", "dark", 390),
        ("task-dark", "tasks/topics.html", "dark", 1440),
        ("methodology", "methodology.html", "light", 1440),
        ("home-dark", "index.html", "dark", 1280),
        ("task-mobile", "tasks/sentiment.html", "light", 390),
        ("task-perplexity", "tasks/wiki.html", "light", 1440),
        ("task-perplexity-mobile", "tasks/wiki.html", "light", 390),
        ("task-perplexity-dark", "tasks/wiki.html", "dark", 1440),
        ("model-lm", "models/epsilon-prompted.html", "light", 1440),
        ("model-lm-mobile", "models/epsilon-prompted.html", "light", 390),
        ("model-lm-dark-mobile", "models/zeta-sft.html", "dark", 390),
    ],
)
def test_screenshots(browser, served, name, path, scheme, width):
    _screenshot(browser, served, name, path, scheme, width)


READER_PAGES = {"home": "index.html", "task": "tasks/sentiment.html", "model": "models/alpha-lora.html"}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1440, 390])
@pytest.mark.parametrize("name", sorted(READER_PAGES))
def test_the_home_task_and_model_pages_at_both_widths_in_both_themes(browser, served, name, width, scheme):
    """``artifacts/screenshots/<page>-<width>-<theme>.png``: what a reader sees, on a desk and
    on a phone, and none of it scrolls sideways."""
    _screenshot(browser, served, f"{name}-{width}-{scheme}", READER_PAGES[name], scheme, width)


def _screenshot(browser, served, name, path, scheme, width) -> None:
    context = browser.new_context(color_scheme=scheme, viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(served + path)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    out = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(out), full_page=True)
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()
    assert out.stat().st_size > 10_000
    assert fits  # wide tables scroll inside their box; the page itself never scrolls sideways
