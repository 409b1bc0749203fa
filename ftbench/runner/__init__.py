"""Runners: drive a model over a task's held-out inputs and time it. One module per kind of
scoring; none imports torch (each drives a model through its Protocol):

    classifier   a ``Classifier`` over labelled texts (length-sorted batches)
    choices      a ``LanguageModel`` scoring each label word after a prompt (shared prefix)
    documents    a ``LanguageModel`` scoring whole documents in rolling windows (resumable)
    generation   greedy generation timings of a ``LanguageModel`` (TTFT, decode rate)
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ftbench.runner.classifier import RunResult, length_sorted_batches, run_classifier

__all__ = ["RunResult", "length_sorted_batches", "run_classifier"]


def __getattr__(name: str) -> Any:
    """The classifier runner's names, imported when first asked for (the audit reads
    ``runner.choice_scores`` without the runners' imports: progress bars, measurement)."""
    if name in __all__:
        from ftbench.runner import classifier

        return getattr(classifier, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
