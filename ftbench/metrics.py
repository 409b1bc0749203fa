"""Metrics: one small function each, registered once with its direction.

Quality metrics are computed with scikit-learn from gold and predicted label ids. Each also
has an exact confusion-matrix form (checked against scikit-learn in the tests) for the site's
reference rows: a site build must not pay scikit-learn's 1.7 s import for two baselines.
Efficiency figures are registered here too (no function: the runner measures them)
so that the leaderboard reads every column's direction from one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ftbench.registry import Registry

Labels = Sequence[int] | np.ndarray


@dataclass(frozen=True, kw_only=True)
class Metric:
    """A named score with a declared direction."""

    name: str
    """Key in a record's ``metrics`` or ``efficiency`` map."""
    label: str
    """Column heading on the site."""
    higher_is_better: bool
    """Direction, used by every ranking."""
    kind: str
    """``quality`` (from predictions) or ``efficiency`` (measured while running)."""
    description: str
    """One sentence on what it means, shown on the site."""
    unit: str = ""
    """Unit of the value (``ms``, ``MiB``), empty for ratios."""
    compute: Callable[[Labels, Labels, int], float] | None = None
    """``compute(y_true, y_pred, n_labels)``; None for efficiency figures."""
    from_confusion: Callable[[np.ndarray], np.ndarray] | None = None
    """The same value from a confusion matrix (rows gold, columns predicted), or one value per
    matrix of a stack (``(n, k, k)``); None for efficiency figures."""
    evidence: str = "predictions"
    """What a record recomputes it from: ``predictions`` (the predicted labels),
    ``normalised predictions`` (labels chosen by length-normalised log-likelihood, causal LMs
    on classification tasks: lm-eval's ``acc_norm``), ``documents`` (per-document
    log-likelihoods and counts, perplexity tasks) or ``measured`` (efficiency)."""


METRICS: Registry[Metric] = Registry("metric")


def accuracy(y_true: Labels, y_pred: Labels, n_labels: int) -> float:
    """Fraction of examples predicted correctly.

    >>> accuracy([0, 1, 1, 0], [0, 1, 0, 0], 2)
    0.75
    """
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(y_true, y_pred))


def _macro_score(score_name: str, y_true: Labels, y_pred: Labels, n_labels: int) -> float:
    import sklearn.metrics as skm

    score = getattr(skm, f"{score_name}_score")
    labels = list(range(n_labels))
    return float(score(y_true, y_pred, labels=labels, average="macro", zero_division=0))


def precision_macro(y_true: Labels, y_pred: Labels, n_labels: int) -> float:
    """Unweighted mean of per-label precision over all task labels (0 where undefined).

    >>> round(precision_macro([0, 0, 1, 1], [0, 1, 1, 1], 2), 4)
    0.8333
    """
    return _macro_score("precision", y_true, y_pred, n_labels)


def recall_macro(y_true: Labels, y_pred: Labels, n_labels: int) -> float:
    """Unweighted mean of per-label recall (balanced accuracy).

    >>> recall_macro([0, 0, 1, 1], [0, 1, 1, 1], 2)
    0.75
    """
    return _macro_score("recall", y_true, y_pred, n_labels)


def f1_macro(y_true: Labels, y_pred: Labels, n_labels: int) -> float:
    """Unweighted mean of per-label F1.

    >>> round(f1_macro([0, 0, 1, 1], [0, 1, 1, 1], 2), 4)
    0.7333
    """
    return _macro_score("f1", y_true, y_pred, n_labels)


def per_class_scores(y_true: Labels, y_pred: Labels, labels: Sequence[str]) -> dict[str, dict]:
    """Precision, recall, F1 and support of every label, keyed by label name.

    >>> per_class_scores([0, 1, 1], [0, 1, 0], ["neg", "pos"])["pos"]["recall"]
    0.5
    """
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(range(len(labels))), zero_division=0)
    return {
        name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, name in enumerate(labels)
    }


def confusion(y_true: Labels, y_pred: Labels, n_labels: int) -> list[list[int]]:
    """Confusion matrix: row = gold label, column = predicted label.

    >>> confusion([0, 1, 1], [0, 1, 0], 2)
    [[1, 0], [1, 1]]
    """
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=list(range(n_labels))).tolist()


def per_label_scores(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(precision, recall, f1, support)`` per label from a confusion matrix, 0 where undefined
    (scikit-learn's ``zero_division=0``). A stack of matrices (``(..., k, k)``) gives stacked rows.

    >>> [a.tolist() for a in per_label_scores(np.array([[1, 1], [0, 2]]))]
    [[1.0, 0.6666666666666666], [0.5, 1.0], [0.6666666666666666, 0.8], [2, 2]]
    """
    cm = np.asarray(matrix, dtype=np.int64)
    tp = np.diagonal(cm, axis1=-2, axis2=-1).astype(float)
    predicted, support = cm.sum(axis=-2), cm.sum(axis=-1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1, support


def confusion_counts(y_true: Labels, y_pred: Labels, n_labels: int) -> np.ndarray:
    """Confusion matrix with numpy alone (what :func:`confusion` gives, as an array).

    >>> confusion_counts([0, 1, 1], [0, 1, 0], 2).tolist()
    [[1, 0], [1, 1]]
    """
    flat = np.asarray(y_true, dtype=np.int64) * n_labels + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(flat, minlength=n_labels * n_labels).reshape(n_labels, n_labels)


def _accuracy_cm(cm: np.ndarray) -> np.ndarray:
    total = cm.sum(axis=(-2, -1))
    return np.trace(cm, axis1=-2, axis2=-1) / np.maximum(total, 1)


def _macro_cm(index: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda cm: per_label_scores(cm)[index].mean(axis=-1)


def bootstrap_intervals(
    names: Sequence[str],
    y_true: Labels,
    y_pred: Labels,
    n_labels: int,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of the named quality metrics: the examples are resampled
    with replacement ``resamples`` times (seeded, so the same predictions always give the same
    interval), each metric is computed on every resample, and the central ``level`` share of
    those values is the interval. It says how much a score depends on which held-out examples
    happened to be drawn.

    >>> gold = [0, 1] * 50
    >>> low, high = bootstrap_intervals(["accuracy"], gold, gold[:80] + [1 - g for g in gold[80:]], 2)["accuracy"]
    >>> round(low, 2), round(high, 2)
    (0.72, 0.88)
    """
    codes = np.asarray(y_true, dtype=np.int64) * n_labels + np.asarray(y_pred, dtype=np.int64)
    cells = n_labels * n_labels
    picks = np.random.default_rng(seed).integers(0, len(codes), size=(resamples, len(codes)))
    # one bincount for all resamples: resample r's codes are shifted into their own block
    shifted = codes[picks] + cells * np.arange(resamples)[:, None]
    matrices = np.bincount(shifted.ravel(), minlength=resamples * cells).reshape(resamples, n_labels, n_labels)
    tail = 100 * (1 - level) / 2
    out = {}
    for name in names:
        fn = METRICS[name].from_confusion
        if fn is None:
            raise ValueError(f"{name} is an efficiency figure, not computed from predictions")
        low, high = np.percentile(fn(matrices), [tail, 100 - tail])
        out[name] = (float(low), float(high))
    return out


def quality_metrics(names: Sequence[str], y_true: Labels, y_pred: Labels, n_labels: int) -> dict:
    """Compute the named quality metrics; returns ``{name: value}`` in ``names`` order."""
    out = {}
    for name in names:
        fn = METRICS[name].compute
        if fn is None:
            raise ValueError(f"{name} is an efficiency figure, not computed from predictions")
        out[name] = fn(y_true, y_pred, n_labels)
    return out


def quality_from_confusion(names: Sequence[str], matrix: np.ndarray) -> dict:
    """:func:`quality_metrics` from a confusion matrix instead of label lists (no scikit-learn)."""
    out = {}
    for name in names:
        fn = METRICS[name].from_confusion
        if fn is None:
            raise ValueError(f"{name} is an efficiency figure, not computed from predictions")
        out[name] = float(fn(np.asarray(matrix)))
    return out


def register_metric(metric: Metric) -> Metric:
    """Add ``metric`` to :data:`METRICS` under its name (a name can be registered once)."""
    METRICS.add(metric.name, metric)
    return metric


QUALITY = (
    Metric(
        name="accuracy",
        label="Accuracy",
        higher_is_better=True,
        kind="quality",
        description="Share of held-out examples whose predicted label is the gold label.",
        compute=accuracy,
        from_confusion=_accuracy_cm,
    ),
    Metric(
        name="f1_macro",
        label="Macro F1",
        higher_is_better=True,
        kind="quality",
        description="Mean over labels of the harmonic mean of precision and recall; every label counts equally.",
        compute=f1_macro,
        from_confusion=_macro_cm(2),
    ),
    Metric(
        name="precision_macro",
        label="Macro precision",
        higher_is_better=True,
        kind="quality",
        description="Mean over labels of the share of predictions of that label that are right.",
        compute=precision_macro,
        from_confusion=_macro_cm(0),
    ),
    Metric(
        name="recall_macro",
        label="Macro recall",
        higher_is_better=True,
        kind="quality",
        description="Mean over labels of the share of that label's examples found (balanced accuracy).",
        compute=recall_macro,
        from_confusion=_macro_cm(1),
    ),
)

NORMALISED = (
    Metric(
        name="accuracy_norm",
        label="Accuracy (length-normalised)",
        higher_is_better=True,
        kind="quality",
        description=(
            "Accuracy when a language model's label is chosen by log-likelihood per character of "
            "the label word (lm-evaluation-harness's acc_norm)."
        ),
        compute=accuracy,
        from_confusion=_accuracy_cm,
        evidence="normalised predictions",
    ),
)

PERPLEXITY = (
    Metric(
        name="bits_per_byte",
        label="Bits per byte",
        higher_is_better=False,
        kind="quality",
        description=(
            "Negative log2-likelihood of the text per UTF-8 byte: independent of the tokenizer, so "
            "models with different vocabularies compare."
        ),
        evidence="documents",
    ),
    Metric(
        name="token_perplexity",
        label="Token perplexity",
        higher_is_better=False,
        kind="quality",
        description="exp of the mean negative log-likelihood per token (depends on the tokenizer).",
        evidence="documents",
    ),
    Metric(
        name="word_perplexity",
        label="Word perplexity",
        higher_is_better=False,
        kind="quality",
        description="exp of the negative log-likelihood per whitespace-separated word (lm-eval's wikitext).",
        evidence="documents",
    ),
    Metric(
        name="byte_perplexity",
        label="Byte perplexity",
        higher_is_better=False,
        kind="quality",
        description="exp of the negative log-likelihood per UTF-8 byte.",
        evidence="documents",
    ),
)

EFFICIENCY = (
    Metric(
        name="latency_ms",
        label="Latency (batch 1)",
        higher_is_better=False,
        kind="efficiency",
        unit="ms",
        description=(
            "Median wall time of one example scored alone, over timed rounds of a fixed sample of held-out "
            "inputs after a warm-up (at least 50 calls and 2 s); its interval is the range of the rounds' means."
        ),
    ),
    Metric(
        name="examples_per_s",
        label="Throughput",
        higher_is_better=True,
        kind="efficiency",
        unit="ex/s",
        description=(
            "Examples per second at the record's batch size: the median of repeated timings of a fixed sample "
            "of whole batches; its interval is the range of the repeats."
        ),
    ),
    Metric(
        name="tokens_per_s",
        label="Tokens/s",
        higher_is_better=True,
        kind="efficiency",
        unit="tok/s",
        description="Non-padding tokens processed per second (median of the throughput repeats).",
    ),
    Metric(
        name="peak_memory_mb",
        label="Peak memory",
        higher_is_better=False,
        kind="efficiency",
        unit="MiB",
        description="Peak memory of the process while evaluating (RSS on CPU, exact high-water mark on Linux).",
    ),
    Metric(
        name="model_memory_mb",
        label="Model memory",
        higher_is_better=False,
        kind="efficiency",
        unit="MiB",
        description=(
            "Memory the model takes: peak RSS minus the RSS just before it was loaded (CPU), the allocator's "
            "peak on a GPU; its interval is the range over the throughput repeats."
        ),
    ),
    Metric(
        name="parameters_total",
        label="Parameters",
        higher_is_better=False,
        kind="efficiency",
        description="Parameters of the model as evaluated (an adapter merged into the base).",
    ),
    Metric(
        name="parameters_base",
        label="Base parameters",
        higher_is_better=False,
        kind="efficiency",
        description="Parameters of the base model before any adapter.",
    ),
    Metric(
        name="parameters_effective",
        label="Effective parameters",
        higher_is_better=False,
        kind="efficiency",
        description="Parameters a forward pass computes with as deployed: base plus adapter when it runs unmerged.",
    ),
    Metric(
        name="parameters_trainable",
        label="Trained parameters",
        higher_is_better=False,
        kind="efficiency",
        description="Parameters the fine-tune changed, as declared by the adapter or the submission.",
    ),
    Metric(
        name="adapter_size_bytes",
        label="Adapter size",
        higher_is_better=False,
        kind="efficiency",
        unit="B",
        description="Bytes of the adapter files (0 for a full model).",
    ),
    Metric(
        name="model_size_bytes",
        label="Model size",
        higher_is_better=False,
        kind="efficiency",
        unit="B",
        description="Bytes of every weight file loaded (base and adapter).",
    ),
    Metric(
        name="wall_time_s",
        label="Wall time",
        higher_is_better=False,
        kind="efficiency",
        unit="s",
        description="Time to score the whole split, model loading excluded.",
    ),
)

LM_EFFICIENCY = (
    Metric(
        name="prefill_tokens_per_s",
        label="Prefill",
        higher_is_better=True,
        kind="efficiency",
        unit="tok/s",
        description="Prompt or document tokens a language model reads per second while scoring (one forward pass).",
    ),
    Metric(
        name="decode_tokens_per_s",
        label="Decode",
        higher_is_better=True,
        kind="efficiency",
        unit="tok/s",
        description="Tokens generated per second in a fixed greedy generation after the first (batch 1, KV cache).",
    ),
    Metric(
        name="ttft_ms_p50",
        label="Time to first token",
        higher_is_better=False,
        kind="efficiency",
        unit="ms",
        description="Median time from a prompt to its first generated token (batch 1).",
    ),
    Metric(
        name="ttft_ms_p95",
        label="TTFT p95",
        higher_is_better=False,
        kind="efficiency",
        unit="ms",
        description="95th percentile of the time from a prompt to its first generated token (batch 1).",
    ),
    Metric(
        name="conversion_time_s",
        label="Conversion time",
        higher_is_better=False,
        kind="efficiency",
        unit="s",
        description="Time to dequantise a GGUF checkpoint into safetensors (0 when it was already cached).",
    ),
    Metric(
        name="source_size_bytes",
        label="Checkpoint size",
        higher_is_better=False,
        kind="efficiency",
        unit="B",
        description="Bytes of the checkpoint as published (the GGUF file for a quantised base).",
    ),
)

for _metric in (*QUALITY, *NORMALISED, *PERPLEXITY):
    register_metric(_metric)
for _metric in (*EFFICIENCY, *LM_EFFICIENCY):
    register_metric(replace(_metric, evidence="measured"))
