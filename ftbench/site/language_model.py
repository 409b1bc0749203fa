"""What a model page shows of a language model's record beyond a classifier's: the prompt a
prompted record was scored through, and a perplexity record's documents and windows. Pure, no
I/O; every string is escaped when the template shows it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ftbench.site.context import scoring_text


@dataclass(frozen=True)
class PromptView:
    """A prompted record's prompt as its section shows it (the record's ``prompt``)."""

    template: str
    """The task's template (``{text}`` is the example's text)."""
    instruction: str
    """Put once before the demonstrations ("" for none)."""
    facts: list[tuple[str, str]]
    """Label words, continuations, chat template, demonstrations and seed, prefix hash."""
    demonstrations: list[tuple[str, str]]
    """``(train example id, gold label)`` of each demonstration, in prompt order."""
    example: str
    """The first held-out example's full prompt, as the model read it (escaped when shown)."""


def prompt_view(prompt: Mapping[str, Any] | None, labels: Sequence[str]) -> PromptView | None:
    """What a prompted record says of its prompt; None for a record without one. The prompt
    is read defensively: it is whatever the record holds (every string is escaped when shown)."""
    if not prompt:
        return None
    choices = [str(c) for c in prompt.get("choices") or []]
    continuations = [str(c) for c in prompt.get("continuations") or []]
    demos = [d for d in prompt.get("demonstrations") or [] if isinstance(d, Mapping)]
    seed = prompt.get("fewshot_seed", "—")
    words = ", ".join(f"{_label(labels, i)} → {json.dumps(c, ensure_ascii=False)}" for i, c in enumerate(choices))
    facts = [
        ("Label words", words or "—"),
        ("Scored continuations", ", ".join(json.dumps(c, ensure_ascii=False) for c in continuations) or "—"),
        (
            "Chat template",
            "on: the prompt is the user's turn, the label word starts the assistant's reply"
            if prompt.get("chat_template")
            else "off: the label word follows the prompt text",
        ),
        (
            "Demonstrations",
            f"{prompt.get('num_fewshot', len(demos))} (train examples drawn with seed {seed})"
            if demos
            else f"none, zero-shot (seed {seed})",
        ),
        ("Shared prefix sha256", str(prompt.get("prefix_sha256", "—"))),
    ]
    return PromptView(
        template=str(prompt.get("template", "")),
        instruction=str(prompt.get("instruction", "")),
        facts=facts,
        demonstrations=[(str(d.get("idx", "—")), _label(labels, d.get("label"))) for d in demos],
        example=str(prompt.get("example", "")),
    )


def _label(labels: Sequence[str], index: object) -> str:
    if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(labels):
        return labels[index]
    return str(index)


def scoring_rows(totals: Mapping[str, int], intervals: Any) -> list[tuple[str, str]]:
    """A perplexity record's documents and windows, as ``(label, text)`` pairs."""
    max_length, context = totals["max_length"], totals["context_len"]
    rows = [
        ("Documents", f"{totals['documents']:,}"),
        ("Tokens predicted", f"{totals['tokens']:,}"),
        ("Words", f"{totals['words']:,}"),
        ("Bytes", f"{totals['bytes']:,} (UTF-8)"),
        ("Window (max_length)", f"{max_length:,} tokens"),
        ("Stride", f"{max_length - context + 1:,} tokens (context_len {context:,})"),
        ("Scored in", scoring_text(max_length, context)),
    ]
    if intervals is not None:
        rows.append(("Intervals", f"{intervals.method}, {intervals.resamples:,} resamples, seed {intervals.seed}"))
    return rows
