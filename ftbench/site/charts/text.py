"""Text measured without a browser (pure): a string's width and its line breaks.

Widths are estimated from DejaVu Sans, the widest of the common system fonts (and the one the
test browser uses), so a label measured here is at least as wide as it renders on most
systems."""

from __future__ import annotations

import re
import unicodedata

LINE_HEIGHT = 1.2
"""Height of a line of text, in ems; a label's box is its lines' height."""
ASCENT = 0.93
"""Baseline of a line below the top of its box, in ems (DejaVu Sans's ascent)."""
# Advance widths in ems, rounded up to these classes; any other character counts as 1 em, or
# 1.25 from the CJK blocks on (wide glyphs and emoji).
_WIDTHS = (
    (0.32, "'ijlIJ,. "),
    (0.40, "/:;\\|()[]tf-"),
    (0.56, '!r"*_`szc?L'),
    (0.64, "FkvxyPTYoaeEhnubdgpqS0123456789${}"),
    (0.72, "KAVXZBRC"),
    (0.80, "UNHDG&OQ"),
    (0.84, "w#+<=>^~"),
)
_EM = {ch: width for width, chars in _WIDTHS for ch in chars}


def text_width(text: str, size: float) -> float:
    """Estimated width of ``text`` set at ``size`` px (at least its DejaVu Sans width).

    >>> text_width("MiniLM", 10.0)
    38.4
    """
    ems = 0.0
    for ch in text:
        if ch in _EM:
            ems += _EM[ch]
        elif not unicodedata.combining(ch):
            ems += 1.25 if ord(ch) >= 0x2E80 else 1.0
    return round(ems * size, 3)


def wrap(text: str, width: float, size: float) -> list[str]:
    """``text`` broken into lines no wider than ``width`` px at ``size`` px: at spaces; a word
    too wide for a line of its own after its hyphens and slashes, and a piece still too wide
    anywhere.

    >>> wrap("MiniLM-L6 + LoRA r=32, all linear layers", 120.0, 10.0)
    ['MiniLM-L6 + LoRA', 'r=32, all linear layers']
    >>> wrap("SmolLM2-135M-Instruct (zero-shot)", 160.0, 10.0)
    ['SmolLM2-135M-Instruct', '(zero-shot)']
    >>> wrap("SmolLM2-135M-Instruct", 100.0, 10.0)
    ['SmolLM2-135M-', 'Instruct']
    >>> wrap("x" * 30, 100.0, 10.0)
    ['xxxxxxxxxxxxxxx', 'xxxxxxxxxxxxxxx']
    """
    lines: list[str] = []
    for word in text.split():
        if lines and text_width(f"{lines[-1]} {word}", size) <= width:
            lines[-1] += f" {word}"
        elif text_width(word, size) <= width:
            lines.append(word)
        else:
            start = len(lines)
            for piece in re.findall(r"[^-/]+[-/]*|[-/]+", word):
                if len(lines) > start and text_width(lines[-1] + piece, size) <= width:
                    lines[-1] += piece
                else:
                    lines.extend(_chunks(piece, width, size))
    return lines or [""]


def _chunks(piece: str, width: float, size: float) -> list[str]:
    """``piece`` cut into runs of characters no wider than ``width`` (one character at least)."""
    out = []
    while len(piece) > 1 and text_width(piece, size) > width:
        cut = 1
        while cut < len(piece) - 1 and text_width(piece[: cut + 1], size) <= width:
            cut += 1
        out.append(piece[:cut])
        piece = piece[cut:]
    return [*out, piece]
