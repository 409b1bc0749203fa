"""Contributor text to safe HTML: markdown rendered, then cleaned with nh3 against an allowlist.

Model cards, names and descriptions arrive by pull request, so nothing they contain may run
in a visitor's browser: no scripts, event handlers, styles, frames, forms, images or
``javascript:``/``data:`` URLs. Plain strings are escaped by Jinja's autoescaping instead.
"""

from __future__ import annotations

import functools

import markdown
import nh3
from markupsafe import Markup

ALLOWED_TAGS = {
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
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "td": {"align"},
    "th": {"align"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}
# Tags whose content is dropped with them (the text of a script is not prose).
DROP_CONTENT = {"script", "style", "iframe", "object", "embed", "template", "noscript", "svg", "math"}
_EXTENSIONS = ["tables", "fenced_code", "sane_lists"]


def clean_html(html: str) -> Markup:
    """``html`` reduced to the allowlist; links get ``rel="nofollow noopener noreferrer"``.

    >>> str(clean_html('<a href="javascript:alert(1)" onclick="x()">hi</a><script>bad()</script>'))
    '<a rel="nofollow noopener noreferrer">hi</a>'
    """
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        clean_content_tags=DROP_CONTENT,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )
    return Markup(cleaned)  # safe: it is the sanitiser's own output


def render_markdown(text: str) -> Markup:
    """Markdown (tables, fenced code) rendered to HTML and cleaned with :func:`clean_html`.

    >>> str(render_markdown("**bold** <img src=x onerror=alert(1)>"))
    '<p><strong>bold</strong> </p>'
    """
    return clean_html(_markdown().reset().convert(text))


@functools.cache
def _markdown() -> markdown.Markdown:
    # one converter, reset between documents: building it (loading extensions) costs more
    # than converting a model card
    return markdown.Markdown(extensions=_EXTENSIONS, extension_configs={"tables": {"use_align_attribute": True}})


def markdown_title(text: str, default: str) -> str:
    """The first ``# heading`` of a markdown text (plain text), else ``default``."""
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip() or default
    return default
