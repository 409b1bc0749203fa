"""The task page's charts in a real browser (headless Chromium, from file://): on a 390 px
screen the narrow drawing shows, its text renders at 11 px or more and no label leaves the
drawing or covers another; on a wide screen the wide drawing shows; the keyboard meets no
unnamed stop in the charts (their marks are not stops, the tables' links are); every mark
contrasts 3:1 with the background in both colour schemes.

The board is the site tests' (its sentiment task has six entries). Skipped as the other
browser tests are.
"""

from __future__ import annotations

import pytest
from test_browser import SCREENSHOTS, browser, site  # noqa: F401  (the shared Chromium and site fixtures)

pytestmark = pytest.mark.browser

PAGE = "tasks/sentiment.html"
TEXTS = ".scatter svg text"
# what each kind of mark is drawn with (fill for text and the front's dots, stroke for the rest)
MARKS = {
    ".point-label": "fill",
    ".axis-tick": "fill",
    ".axis-title": "fill",
    ".ref-label": "fill",
    ".front-pt": "fill",
    ".pt:not(.front-pt)": "stroke",
    ".err": "stroke",
    ".front": "stroke",
    ".ref-line": "stroke",
    ".leader": "stroke",
    ".axis-line": "stroke",
}


def _open(browser, site, width: int, scheme: str = "light"):  # noqa: F811
    context = browser.new_context(color_scheme=scheme, viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(site.as_uri() + "/" + PAGE)
    if not page.locator('link[rel="stylesheet"][href$="static/charts.css"]').count():
        context.close()
        pytest.fail('templates/base.html.j2 must link <link rel="stylesheet" href="{{ root }}static/charts.css">')
    return context, page


def _visible_drawings(page) -> list[str]:
    return page.eval_on_selector_all(
        ".scatter svg", "els => els.filter(e => e.getBoundingClientRect().width > 0).map(e => e.getAttribute('class'))"
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_at_390_px_the_narrow_drawing_shows_with_text_of_11_px_or_more(browser, site, scheme):  # noqa: F811
    context, page = _open(browser, site, 390, scheme)
    assert _visible_drawings(page) == ["chart scatter-narrow", "chart scatter-narrow"]
    sizes = page.eval_on_selector_all(
        TEXTS,
        """els => els.filter(e => e.getBoundingClientRect().width > 0).map(e =>
            [e.textContent, parseFloat(getComputedStyle(e).fontSize) * e.getScreenCTM().a])""",
    )
    assert len(sizes) > 20
    small = [(text, size) for text, size in sizes if size < 11]
    assert not small, small
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("section", has=page.locator("#charts")).screenshot(path=str(SCREENSHOTS / f"charts-390-{scheme}.png"))
    context.close()


def test_no_label_leaves_its_drawing_or_covers_another(browser, site):  # noqa: F811
    for width in (390, 1440):
        context, page = _open(browser, site, width)
        drawings = page.eval_on_selector_all(
            ".scatter svg",
            """els => els.filter(e => e.getBoundingClientRect().width > 0).map(svg => {
                const box = svg.getBoundingClientRect();
                const labels = [...svg.querySelectorAll('.point-label, .ref-label, .axis-title, .axis-tick')].map(t => {
                    const r = t.getBoundingClientRect();
                    return [t.textContent, t.getAttribute('class'), r.left, r.top, r.right, r.bottom];
                });
                return [[box.left, box.top, box.right, box.bottom], labels];
            })""",
        )
        assert len(drawings) == 2
        for (left, top, right, bottom), labels in drawings:
            for text, _, x0, y0, x1, y1 in labels:
                assert left - 0.5 <= x0 and x1 <= right + 0.5 and top - 0.5 <= y0 and y1 <= bottom + 0.5, (width, text)
            placed = [lab for lab in labels if lab[1] in ("point-label", "ref-label")]
            assert len(placed) >= 6
            for i, (a, _, ax0, ay0, ax1, ay1) in enumerate(placed):
                for b, _, bx0, by0, bx1, by1 in placed[i + 1 :]:
                    overlap = min(ax1, bx1) - max(ax0, bx0) > 0.5 and min(ay1, by1) - max(ay0, by0) > 0.5
                    assert not overlap, (width, a, b)
        context.close()


def test_a_wide_screen_shows_the_wide_drawing_at_its_size(browser, site):  # noqa: F811
    context, page = _open(browser, site, 1440)
    assert _visible_drawings(page) == ["chart scatter-wide", "chart scatter-wide"]
    sizes = page.eval_on_selector_all(
        TEXTS,
        """els => els.filter(e => e.getBoundingClientRect().width > 0).map(e =>
            parseFloat(getComputedStyle(e).fontSize) * e.getScreenCTM().a)""",
    )
    assert min(sizes) >= 11 and max(sizes) <= 16
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("section", has=page.locator("#charts")).screenshot(path=str(SCREENSHOTS / "charts-1440-light.png"))
    context.close()


NAME = """e => (e.getAttribute('aria-label') || (e.getAttribute('aria-labelledby') || '').split(' ')
    .map(id => (document.getElementById(id) || {}).textContent || '').join(' ') || e.textContent
    || e.getAttribute('title') || '').trim()"""


def test_the_keyboard_meets_only_named_stops_in_the_charts(browser, site):  # noqa: F811
    context, page = _open(browser, site, 1440)
    stops = []
    for _ in range(400):  # the whole page, from the top, until focus leaves it
        page.keyboard.press("Tab")
        stop = page.evaluate(
            f"""() => {{ const e = document.activeElement;
                return [e.tagName, !!e.closest('section[aria-labelledby="charts"]'), !!e.closest('svg'),
                        ({NAME})(e)]; }}"""
        )
        if stop[0] == "BODY" and stops:
            break
        stops.append(stop)
    charts = [s for s in stops if s[1]]
    assert charts, "no tab stop in the charts section"
    assert not [s for s in stops if s[2]], "a chart's mark is a tab stop"
    assert all(name for *_, name in charts), charts
    # the tables' links, one per point, reach every model page from the keyboard
    assert [tag for tag, *_ in charts] == ["SUMMARY", "SUMMARY"]  # closed tables: their links are not stops yet
    page.click("details.chart-data summary")
    assert page.locator("details.chart-data[open] a").count() == 6
    context.close()


PROBE = """([cls, paint]) => {
    const svg = document.querySelector('.scatter svg');
    const mark = document.createElementNS('http://www.w3.org/2000/svg', cls.endsWith('label') ? 'text' : 'line');
    mark.setAttribute('class', cls);
    svg.appendChild(mark);
    const colour = getComputedStyle(mark)[paint];
    mark.remove();
    return colour;
}"""


def _rgb(css: str) -> tuple[float, ...]:
    values = css[css.index("(") + 1 : css.index(")")].replace(",", " ").split()
    return tuple(float(v) for v in values[:3])


def _luminance(rgb: tuple[float, ...]) -> float:
    r, g, b = ((c / 255 / 12.92) if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_mark_contrasts_3_to_1_with_the_background(browser, site, scheme):  # noqa: F811
    context, page = _open(browser, site, 1440, scheme)
    background = _luminance(_rgb(page.evaluate("getComputedStyle(document.body).backgroundColor")))
    for selector, paint in MARKS.items():
        colours = page.eval_on_selector_all(
            f".scatter svg.scatter-wide {selector}", f"els => els.map(e => getComputedStyle(e).{paint})"
        )
        if not colours and selector in (".leader", ".ref-line", ".ref-label", ".front"):
            # not on this page: the same rule on a mark of that class added for the check
            colours = [page.evaluate(PROBE, [selector[1:], paint])]
        assert colours, selector
        for colour in set(colours):
            lum = _luminance(_rgb(colour))
            ratio = (max(lum, background) + 0.05) / (min(lum, background) + 0.05)
            assert ratio >= 3.0, (scheme, selector, colour, round(ratio, 2))
    context.close()
