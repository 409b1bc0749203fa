"""Runners: drive a model over a task's held-out inputs and time it. One module per kind of
scoring; none imports torch (each drives a model through its Protocol):

    classifier   a ``Classifier`` over labelled texts (length-sorted batches)
    choices      a ``LanguageModel`` scoring each label word after a prompt (shared prefix)
    documents    a ``LanguageModel`` scoring whole documents in rolling windows (resumable)
    generation   greedy generation timings of a ``LanguageModel`` (TTFT, decode rate)
"""

from ftbench.runner.classifier import RunResult, length_sorted_batches, run_classifier

__all__ = ["RunResult", "length_sorted_batches", "run_classifier"]
