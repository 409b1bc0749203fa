"""The rows of the example browser and of a comparison's disagreements, as data and as HTML.

The first page of rows is built here in Python rather than in a Jinja loop: a board has one
such table per record and per compared pair, and a loop per cell dominated their rendering.
Every text and label is escaped here, since the rows reach the templates as markup. The
script (``static/browse.js``) writes the other pages' rows with the same cells and the same
figures, from the integers these functions format (confidences per mille, bits per byte in
``1 / BPB_SCALE``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from markupsafe import Markup

from ftbench.site.tables import html_text
from ftbench.tasks import Examples

BPB_SCALE = 10_000
"""Per-document bits per byte travel to the script as integers of this many parts (4 decimals)."""
_MARKS = {
    True: '<span class="mark ok" role="img" aria-label="right" title="right">✓</span>',
    False: '<span class="mark bad" role="img" aria-label="wrong" title="wrong">✗</span>',
}
"""A shape as well as a colour tells right from wrong; screen readers read its name."""


def percent_text(per_mille: int) -> str:
    """``973`` -> ``97.3%`` (as the script writes it).

    >>> percent_text(973), percent_text(1000), percent_text(5)
    ('97.3%', '100.0%', '0.5%')
    """
    return f"{per_mille // 10}.{per_mille % 10}%"


def bits_text(parts: int, sign: bool = False) -> str:
    """Bits per byte from integer parts of ``BPB_SCALE``, as the script writes them.

    >>> bits_text(10234), bits_text(-57, sign=True), bits_text(0, sign=True)
    ('1.0234', '−0.0057', '0.0000')
    """
    text = f"{abs(parts) // BPB_SCALE}.{abs(parts) % BPB_SCALE:04d}"
    if sign and parts > 0:
        return "+" + text
    return text if parts >= 0 else "−" + text


@dataclass(frozen=True)
class ExampleRow:
    """One held-out example with one entry's prediction."""

    row: int
    """Its row id in the data file."""
    text: str
    """The input text."""
    gold: str
    """Gold label."""
    pred: str
    """Predicted label ("—" where the record has none)."""
    confidence: str
    """Probability of the predicted label, ``97.3%``."""
    right: bool
    """Whether the prediction is the gold label."""


def example_rows(
    positions: Sequence[int] | np.ndarray, examples: Examples, labels: Sequence[str], pred: np.ndarray, conf: np.ndarray
) -> list[ExampleRow]:
    """The rows of ``positions`` (``conf``: per mille)."""
    out = []
    for i in map(int, positions):
        p, g = int(pred[i]), examples.labels[i]
        out.append(
            ExampleRow(
                row=examples.idx[i],
                text=examples.texts[i],
                gold=labels[g],
                pred=labels[p] if p >= 0 else "—",
                confidence=percent_text(int(conf[i])) if p >= 0 else "—",
                right=p == g,
            )
        )
    return out


def example_rows_html(rows: Sequence[ExampleRow]) -> Markup:
    """The browser's table rows: row id, text, gold, prediction (marked when wrong), confidence."""
    return Markup(
        "".join(
            f'<tr class="{"right" if r.right else "wrong"}"><td class="num" data-label="Row">{r.row}</td>'
            f'<td class="text">{html.escape(r.text)}</td><td data-label="Gold">{html_text(r.gold)}</td>'
            f'<td data-label="Predicted">{html_text(r.pred)}{"" if r.right else " " + _MARKS[False]}</td>'
            f'<td class="num" data-label="Confidence">{r.confidence}</td></tr>\n'
            for r in rows
        )
    )


@dataclass(frozen=True)
class Disagreement:
    """One example two entries predict differently."""

    row: int
    """Row id in the data file."""
    text: str
    """Input text."""
    gold: str
    """Gold label."""
    a: tuple[str, str, bool]
    """First entry's (label, confidence, right)."""
    b: tuple[str, str, bool]
    """Second entry's."""


def disagreement_rows(
    positions: Sequence[int] | np.ndarray,
    examples: Examples,
    labels: Sequence[str],
    first: tuple[np.ndarray, np.ndarray],
    second: tuple[np.ndarray, np.ndarray],
) -> list[Disagreement]:
    """The rows of ``positions`` (``first``, ``second``: each entry's predictions and
    confidences per mille)."""

    def side(pred: int, conf: int, gold: int) -> tuple[str, str, bool]:
        return (labels[pred], percent_text(conf), pred == gold) if pred >= 0 else ("—", "—", False)

    out = []
    for k in map(int, positions):
        g = examples.labels[k]
        a = side(int(first[0][k]), int(first[1][k]), g)
        b = side(int(second[0][k]), int(second[1][k]), g)
        out.append(Disagreement(examples.idx[k], examples.texts[k], labels[g], a, b))
    return out


def disagreement_rows_html(rows: Sequence[Disagreement]) -> Markup:
    """A comparison's table rows: row id, text, gold, then each entry's label, confidence, mark."""

    def side(heading: str, label: str, conf: str, right: bool) -> str:
        shown = f"{html_text(label)} ({conf})" if conf != "—" else "—"
        return f'<td data-label="{heading}">{shown} {_MARKS[right]}</td>'

    return Markup(
        "".join(
            f'<tr><td class="num" data-label="Row">{d.row}</td><td class="text">{html.escape(d.text)}</td>'
            f'<td data-label="Gold">{html_text(d.gold)}</td>{side("A predicts", *d.a)}{side("B predicts", *d.b)}</tr>\n'
            for d in rows
        )
    )


@dataclass(frozen=True)
class DocumentRow:
    """One document of a perplexity task with two entries' bits per byte."""

    doc: int
    """Document position (from 1)."""
    text: str
    """Its opening words."""
    nbytes: int
    """UTF-8 bytes."""
    a: str
    """First entry's bits per byte."""
    b: str
    """Second entry's."""
    difference: str
    """First minus second."""


def document_rows_html(rows: Sequence[DocumentRow]) -> Markup:
    """A perplexity comparison's table rows."""
    return Markup(
        "".join(
            f'<tr><td class="num" data-label="Document">{d.doc}</td><td class="text">{html.escape(d.text)}</td>'
            f'<td class="num" data-label="Bytes">{d.nbytes:,}</td><td class="num" data-label="A (bits/byte)">{d.a}</td>'
            f'<td class="num" data-label="B (bits/byte)">{d.b}</td><td class="num" data-label="A − B">'
            f"{d.difference}</td></tr>\n"
            for d in rows
        )
    )
