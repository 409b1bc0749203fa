"""Contributor text to safe HTML: markdown rendered, then cleaned with nh3 against an allowlist.

Model cards, names and descriptions arrive by pull request, so nothing they contain may run
in a visitor's browser: no scripts, event handlers, styles, frames, forms, images or
``javascript:``/``data:`` URLs. Plain strings are escaped by Jinja's autoescaping instead.

Markdown is read as GitHub and the Hugging Face Hub read it (CommonMark with GFM tables,
strikethrough and task lists, through markdown-it-py): list items continue at the indent of
their text (two or three spaces), fenced code may sit inside a list, raw HTML is allowed and
then cleaned. Python-Markdown cannot do this even with extensions: it ends a list item at the
first unindented marker after a continuation paragraph, and it is slower on hostile text.
"""

from __future__ import annotations

import functools
import itertools
import re
from typing import TYPE_CHECKING

import nh3
from markupsafe import Markup

from ftbench.untrusted import MAX_DEPTH

if TYPE_CHECKING:  # markdown-it is imported when a page first renders markdown
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

ALLOWED_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "code",
        "dd",
        "del",
        "dl",
        "dt",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "kbd",
        "li",
        "ol",
        "p",
        "pre",
        "s",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "td": {"align"},
    "th": {"align"},
    "ol": {"start"},
    **{h: {"id"} for h in HEADINGS},
}
URL_SCHEMES = {"http", "https", "mailto"}
# Tags whose content is dropped with them (the text of a script is not prose).
DROP_CONTENT = {"script", "style", "iframe", "object", "embed", "template", "noscript", "svg", "math"}
ID_PREFIX = "md-"
"""Every id in rendered markdown starts with this, so none can clash with the page's own ids."""
TASK_MARKS = {" ": "☐", "x": "☑", "X": "☑"}
"""GFM task-list markers shown as text: a disabled checkbox would need <input> in the allowlist."""


def clean_html(html: str, tags: frozenset[str] = ALLOWED_TAGS) -> Markup:
    """``html`` reduced to ``tags`` and the allowlisted attributes; links get
    ``rel="nofollow noopener noreferrer"``; an id survives only with :data:`ID_PREFIX`.

    >>> str(clean_html('<a href="javascript:alert(1)" onclick="x()">hi</a><script>bad()</script>'))
    '<a rel="nofollow noopener noreferrer">hi</a>'
    >>> str(clean_html('<h2 id="summary-h">a</h2><h2 id="md-b">b</h2>'))
    '<h2>a</h2><h2 id="md-b">b</h2>'
    """
    cleaned = nh3.clean(
        html,
        tags=set(tags),
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_namespaced_ids,
        url_schemes=URL_SCHEMES,
        clean_content_tags=DROP_CONTENT,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )
    return Markup(cleaned)  # safe: it is the sanitiser's own output


def _namespaced_ids(tag: str, attribute: str, value: str) -> str | None:
    return None if attribute == "id" and not value.startswith(ID_PREFIX) else value


def render_markdown(text: str, top_heading: int = 1) -> Markup:
    """Markdown rendered as GitHub renders it, then cleaned with :func:`clean_html`.

    ``top_heading`` is the level the text's highest heading takes: 3 for a model card shown
    under the page's own ``<h2>``, so its ``#`` becomes ``<h3>``, its ``##`` ``<h4>``, and so on
    (to ``<h6>`` at most); raw HTML headings above that level lose their tags. Headings get
    ids (GitHub's slugs behind :data:`ID_PREFIX`), and ``#fragment`` links follow them.

    >>> str(render_markdown("**bold** <img src=x onerror=alert(1)>"))
    '<p><strong>bold</strong> </p>'
    >>> print(render_markdown("# Card\\n\\n1. see [usage](#usage)\\n\\n   ```\\n   run\\n   ```\\n2. done", 3))
    <h3 id="md-card">Card</h3>
    <ol>
    <li>
    <p>see <a href="#md-usage" rel="nofollow noopener noreferrer">usage</a></p>
    <pre><code>run
    </code></pre>
    </li>
    <li>
    <p>done</p>
    </li>
    </ol>
    """
    parser = _parser()
    tokens = parser.parse(text)
    _demote_headings(tokens, top_heading)
    _anchor_headings(tokens)
    _github_touches(tokens)
    html = parser.renderer.render(tokens, parser.options, {}).rstrip()
    return clean_html(html, ALLOWED_TAGS.difference(HEADINGS[: max(0, top_heading - 1)]))


@functools.cache
def _parser() -> MarkdownIt:
    # commonmark + the GFM extensions markdown-it-py has built in (linkify would need a further
    # package). maxNesting: markdown-it drops what lies deeper, unseen; a list level costs two
    # (list, item), and card_problem refuses lists deeper than MAX_DEPTH. No higher: the time
    # a line of unclosed "[" takes grows with it.
    from markdown_it import MarkdownIt

    options = {"html": True, "maxNesting": 2 * MAX_DEPTH + 2}
    return MarkdownIt("commonmark", options).enable(["table", "strikethrough"])


def _demote_headings(tokens: list[Token], top: int) -> None:
    """Shift the headings down so that none is above ``h<top>``, keeping their steps."""
    levels = [int(t.tag[1]) for t in tokens if t.type == "heading_open"]
    shift = max(0, top - min(levels, default=top))
    if shift:
        for token in tokens:
            if token.type in ("heading_open", "heading_close"):
                token.tag = f"h{min(6, int(token.tag[1]) + shift)}"


def _anchor_headings(tokens: list[Token]) -> None:
    """Give each heading an id: GitHub's slug of its text, numbered when repeated."""
    seen: dict[str, int] = {}
    for heading, inline in itertools.pairwise(tokens):
        if heading.type != "heading_open":
            continue
        slug = github_slug("".join(c.content for c in inline.children or [] if c.type in ("text", "code_inline")))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        heading.attrSet("id", ID_PREFIX + (f"{slug}-{count}" if count else slug))


_NOT_SLUG = re.compile(r"[^\w\- ]")


def github_slug(text: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens.

    >>> github_slug("Usage (Sentence-Transformers)"), github_slug("Über 2.0 & more"), github_slug("?")
    ('usage-sentence-transformers', 'über-20--more', 'section')
    """
    return _NOT_SLUG.sub("", text.strip().lower()).replace(" ", "-") or "section"


def _github_touches(tokens: list[Token]) -> None:
    """What GitHub adds to CommonMark's output: task-list marks, table alignment that survives
    the allowlist, ``#fragment`` links pointing at the namespaced heading ids."""
    for i, token in enumerate(tokens):
        if token.type == "inline":
            _namespace_fragment_links(token)
            if i >= 2 and tokens[i - 1].type == "paragraph_open" and tokens[i - 2].type == "list_item_open":
                _mark_task(token)
        elif token.type in ("th_open", "td_open"):
            _align_cell(token)


def _namespace_fragment_links(inline: Token) -> None:
    for child in inline.children or []:
        href = child.attrGet("href") if child.type == "link_open" else None
        if isinstance(href, str) and href[:1] == "#" and len(href) > 1 and not href.startswith("#" + ID_PREFIX):
            child.attrSet("href", "#" + ID_PREFIX + href[1:])


_TASK = re.compile(r"\[([ xX])\][ \t]")


def _mark_task(inline: Token) -> None:
    """``[ ] todo`` / ``[x] done`` opening a list item's first paragraph becomes ☐ / ☑."""
    first = inline.children[0] if inline.children else None
    found = _TASK.match(first.content) if first is not None and first.type == "text" else None
    if first is not None and found:
        first.content = TASK_MARKS[found.group(1)] + first.content[found.end() - 1 :]


def _align_cell(cell: Token) -> None:
    # markdown-it aligns with style="text-align:…", which the allowlist drops; align survives
    style = cell.attrGet("style")
    if isinstance(style, str) and style.startswith("text-align:"):
        del cell.attrs["style"]
        cell.attrSet("align", style.removeprefix("text-align:"))


def markdown_title(text: str, default: str) -> str:
    """The first ``# heading`` of a markdown text (plain text), else ``default``."""
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip() or default
    return default
