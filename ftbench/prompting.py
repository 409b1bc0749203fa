"""Prompts for causal LMs on classification tasks, as pure functions: the demonstrations drawn
from a train split, the text of each example's prompt, and the label continuations.

The format is lm-evaluation-harness's multiple-choice one: the context is the task's
``instruction``, then ``k`` demonstrations (each the template filled with a train example and
its label word), then the template filled with the example, joined by ``fewshot_delimiter``;
each label is scored as the continuation ``target_delimiter + choice``. With the tokenizer's
chat template (instruction-tuned models) the context becomes the user's turn and the label
word is scored as the start of the assistant's reply, without the delimiter.

The demonstrations are drawn once per (task, seed), so every example shares one prefix: a
model can read it once and keep its cache.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ftbench.spec import Prompting
from ftbench.tasks import Examples, PromptSpec


@dataclass(frozen=True)
class PromptPlan:
    """Everything that turns a task's examples into prompts for one (task, settings) pair."""

    spec: PromptSpec
    """The task's prompt declaration."""
    settings: Prompting
    """The submission's prompt settings (chat template, shots, seed)."""
    demonstrations: tuple[tuple[int, str, int], ...]
    """``(idx, text, label)`` of each demonstration, in prompt order."""

    @property
    def prefix(self) -> str:
        """The text every prompt starts with: the instruction and the demonstrations."""
        parts = [self.spec.instruction] if self.spec.instruction else []
        parts += [
            fill(self.spec, text) + self.spec.target_delimiter + self.spec.choices[label]
            for _, text, label in self.demonstrations
        ]
        return "".join(p + self.spec.fewshot_delimiter for p in parts)

    def message(self, text: str) -> str:
        """The prompt of an example (before any chat template).

        >>> spec = PromptSpec(template="Q: {text}\\nA:", choices=("no", "yes"))
        >>> PromptPlan(spec, Prompting(), ((7, "hot?", 1),)).message("cold?")
        'Q: hot?\\nA: yes\\n\\nQ: cold?\\nA:'
        """
        return self.prefix + fill(self.spec, text)

    @property
    def continuations(self) -> tuple[str, ...]:
        """What is scored after the prompt, one per label.

        >>> PromptPlan(PromptSpec(template="{text}", choices=("no", "yes")), Prompting(), ()).continuations
        (' no', ' yes')
        """
        if self.settings.chat_template:
            return self.spec.choices
        return tuple(self.spec.target_delimiter + c for c in self.spec.choices)

    def provenance(self) -> dict:
        """What a record keeps of the prompt: declaration, settings, the demonstrations' ids and
        a hash of the prefix text (the full prompt is reproducible from these)."""
        return {
            "template": self.spec.template,
            "instruction": self.spec.instruction,
            "choices": list(self.spec.choices),
            "continuations": list(self.continuations),
            "target_delimiter": self.spec.target_delimiter,
            "fewshot_delimiter": self.spec.fewshot_delimiter,
            "chat_template": self.settings.chat_template,
            "num_fewshot": self.settings.num_fewshot,
            "fewshot_seed": self.settings.fewshot_seed,
            "demonstrations": [{"idx": i, "label": label} for i, _, label in self.demonstrations],
            "prefix_sha256": hashlib.sha256(self.prefix.encode()).hexdigest(),
        }


def fill(spec: PromptSpec, text: str) -> str:
    """The template with ``{text}`` replaced (no other formatting: texts may hold braces).

    >>> fill(PromptSpec(template="Review: {text}\\nSentiment:", choices=("a", "b")), "{great}")
    'Review: {great}\\nSentiment:'
    """
    return spec.template.replace("{text}", text)


def draw_demonstrations(train: Examples, k: int, seed: int) -> tuple[tuple[int, str, int], ...]:
    """``k`` distinct train examples drawn with ``seed`` (numpy's PCG64), in draw order.

    >>> ex = Examples(idx=(10, 11, 12, 13), texts=("a", "b", "c", "d"), labels=(0, 1, 0, 1))
    >>> draw_demonstrations(ex, 2, seed=1) == draw_demonstrations(ex, 2, seed=1)
    True
    >>> len(draw_demonstrations(ex, 0, seed=1))
    0
    """
    if k == 0:
        return ()
    if k > len(train):
        raise ValueError(f"{k} demonstrations asked for, the split has {len(train)} examples")
    picks = np.random.default_rng(seed).choice(len(train), size=k, replace=False)
    return tuple((train.idx[i], train.texts[i], train.labels[i]) for i in picks.tolist())


def plan_prompts(spec: PromptSpec, settings: Prompting, train: Examples | None) -> PromptPlan:
    """The prompt plan of a task for a submission's settings (``train``: the split the
    demonstrations come from; needed only when ``settings.num_fewshot`` > 0)."""
    if settings.num_fewshot and train is None:
        raise ValueError("few-shot prompting needs the task's train split")
    demos = draw_demonstrations(train, settings.num_fewshot, settings.fewshot_seed) if train else ()
    return PromptPlan(spec, settings, demos)


def settings_key(spec: PromptSpec | None, settings: Prompting) -> str:
    """Hash of the prompt settings, a part of a causal LM's content key (the task's prompt is
    already in its definition hash)."""
    payload = {"settings": settings.model_dump(mode="json"), "has_prompt": spec is not None}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def choose(loglik: Sequence[float]) -> int:
    """The label with the highest log-likelihood (the first on a tie, as ``argmax``)."""
    return int(np.argmax(np.asarray(loglik, dtype=np.float64)))
