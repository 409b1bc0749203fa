"""Bounds on what a stranger's files may cost before anything trusts them.

Every check here is linear in the input and runs before the input is used: YAML without
anchors or aliases (an alias bomb of a few hundred bytes expands to gigabytes), capped in size
and depth; text without control, null or bidirectional-override characters (they forge log
lines and disguise names); markdown capped in size and nesting (deep nesting makes a markdown
parser and an HTML sanitiser slow); JSON configs without any key that would
run code, at any depth.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from ftbench.errors import Issue

# The C loader parses the same safe subset of YAML several times faster (builds read every spec).
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_YAML_BYTES = 64 * 1024
"""A submission.yaml is a page of settings; anything larger is refused unread."""
MAX_DEPTH = 16
"""Nesting of YAML mappings and lists, of markdown lists and quotes, of HTML tags in a card."""
MAX_CARD_BYTES = 256 * 1024
"""A model card is prose; a larger one is refused before it is rendered."""
CODE_KEYS = ("trust_remote_code", "auto_map")
"""Keys that make transformers import code shipped with a model, refused in any JSON file."""

# C0 controls but tab and line feed, DEL, C1 controls, and the bidirectional embedding,
# override and isolate characters (which reorder how a name or a path is displayed).
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")
_UNSAFE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}\u2028\u2029]")
SINGLE_LINE_FIELDS = {"id", "name", "license", "model_card", "submitter.name", "submitter.github"}
"""Fields shown on one line (titles, table cells): no tab or line break either."""


def unsafe_character(text: str, single_line: bool = False) -> str | None:
    """A description of the first character ``text`` may not hold, or None; ``single_line``
    also refuses tabs and line breaks (names, file names).

    >>> unsafe_character("fine name"), unsafe_character("evil\\u202egnp.exe"), unsafe_character("a\\x00b")
    (None, 'U+202E (bidirectional control)', 'U+0000 (control character)')
    >>> unsafe_character("two\\nlines"), unsafe_character("two\\nlines", single_line=True)
    (None, 'U+000A (control character)')
    """
    found = (_UNSAFE_LINE if single_line else _UNSAFE).search(text)
    if found is None:
        return None
    char = found.group()
    kind = "bidirectional control" if char in _BIDI else "control character"
    return f"U+{ord(char):04X} ({kind})"


def parse_yaml(text: str, shown: str) -> tuple[Any, list[Issue]]:
    """``text`` as plain data, or the issues that refuse it: too large, anchors or aliases,
    nesting deeper than :data:`MAX_DEPTH`, invalid YAML."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        return None, [
            Issue(shown, "-", f"larger than {MAX_YAML_BYTES // 1024} KiB; a submission is a page of settings")
        ]
    try:
        problem = _event_problem(text)
        if problem:
            return None, [Issue(shown, "-", problem)]
        loader = YAML_LOADER(text)
        try:
            return loader.get_single_data(), []
        finally:
            loader.dispose()
    except (yaml.YAMLError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        return None, [Issue(shown, "-", f"not valid YAML: {exc}".replace("\n", " ")[:300])]


def _event_problem(text: str) -> str | None:
    """Walk the parser's events (no object is built): refuse anchors, aliases and deep nesting."""
    depth = 0
    for event in yaml.parse(text, Loader=YAML_LOADER):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            return "YAML anchors and aliases (& and *) are not allowed in a submission; write values out"
        tag = getattr(event, "tag", None)
        if tag is not None:  # !!timestamp, !!binary, ...: plain values only
            return f"YAML tags ({tag}) are not allowed in a submission; write plain values"
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return None


def text_issues(node: Any, shown: str, where: str = "") -> Iterator[Issue]:
    """An issue for every key or string value of parsed data (a tree: no aliases) holding a
    character from :func:`unsafe_character`, named by its dotted location."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            field = f"{where}{key}"
            bad = unsafe_character(str(key))
            if bad:
                yield Issue(shown, where.rstrip(".") or "-", f"a key holds {bad}")
            yield from text_issues(value, shown, field + ".")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from text_issues(value, shown, f"{where}{i}.")
    elif isinstance(node, str):
        bad = unsafe_character(node, single_line=where.rstrip(".") in SINGLE_LINE_FIELDS)
        if bad:
            yield Issue(shown, where.rstrip(".") or "-", f"holds {bad}; remove it")


def code_keys(node: Any, where: str = "") -> Iterator[str]:
    """Dotted locations of :data:`CODE_KEYS` anywhere in parsed JSON or YAML."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            field = f"{where}{key}"
            if str(key) in CODE_KEYS:
                yield field
            yield from code_keys(value, field + ".")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from code_keys(value, f"{where}{i}.")


_LIST_OR_QUOTE = re.compile(r"^(?P<indent>[ \t]*)(?P<marker>(?:[-*+]|\d{1,9}[.)]|>)[ \t])")
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)[^<>]*?(/?)>")  # [^<>]: linear on "<a<a<a..."
_TAG_START = re.compile(r"<[A-Za-z/!?]")
MAX_TAGS = 2000
"""Raw HTML tags a model card may hold (markdown needs none)."""
_VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "track", "wbr"}


def card_problem(text: str) -> str | None:
    """Why a model card cannot be rendered safely, or None: over :data:`MAX_CARD_BYTES`, lists
    or quotes nested deeper than :data:`MAX_DEPTH`, or HTML tags nested deeper than that.

    >>> card_problem("# Card\\n\\n- a\\n  - b\\n"), card_problem("<div>" * 40)
    (None, 'HTML nested deeper than 16 levels')
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_CARD_BYTES:
        return f"larger than {MAX_CARD_BYTES // 1024} KiB"
    if len(_TAG_START.findall(text)) > MAX_TAGS:  # bounded work for the markdown parser and nh3 on "<a<a<a..."
        return f"more than {MAX_TAGS:,} HTML tags"
    for line in text.splitlines():
        if _quote_or_list_depth(line) > MAX_DEPTH:
            return f"lists or quotes nested deeper than {MAX_DEPTH} levels"
    depth = 0
    for closing, name, self_closing in _TAG.findall(text):
        if name.lower() in _VOID or self_closing:
            continue
        depth = max(0, depth - 1) if closing else depth + 1
        if depth > MAX_DEPTH:
            return f"HTML nested deeper than {MAX_DEPTH} levels"
    return None


def _quote_or_list_depth(line: str) -> int:
    """Markers of nested lists and quotes that open a line: ``> > - 1. x`` is 4 deep; an indent
    of two spaces is one level of list nesting."""
    depth = 0
    rest = line
    while True:
        found = _LIST_OR_QUOTE.match(rest)
        if not found:
            return depth
        depth += 1 + len(found.group("indent").expandtabs(4)) // 2
        rest = rest[found.end() :]
