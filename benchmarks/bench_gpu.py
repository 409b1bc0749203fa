"""CUDA path check: fp32 and bf16 evaluation of one submission on one task, on a GPU.

Checks what only a GPU run can: timings taken after ``torch.cuda.synchronize`` (the runner
calls it inside ``predict_proba``), peak device memory from ``torch.cuda.max_memory_allocated``,
bf16 weights, and agreement of GPU predictions with the CPU record committed to the board.
Also times the transformers pipeline default loop on the same GPU for the ratio.

    python benchmarks/bench_gpu.py --root . --submission submissions/minilm-lora-r8 --task sst2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from ftbench.config import load_config
from ftbench.models.hf import load_classifier
from ftbench.models.resolve import resolve
from ftbench.record import read_record, record_path
from ftbench.runner import run_classifier
from ftbench.submissions import load_submission
from ftbench.tasks import load_examples, load_tasks


def agreement(a: list[int], b: list[int]) -> float:
    """Share of positions where two prediction lists agree."""
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument("--submission", default="submissions/minilm-lora-r8")
    parser.add_argument("--task", default="sst2")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--reference", type=Path, help="CPU record to compare with (default: the board's)")
    parser.add_argument("--cpu-reference", action="store_true", help="compute the CPU fp32 predictions here instead")
    parser.add_argument("--limit", type=int, help="first N examples only (a quick dry run)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    config = load_config(args.root)
    tasks = load_tasks(config.tasks_dir)
    task = tasks[args.task]
    sub = load_submission(Path(args.submission).resolve(), tasks)
    examples = load_examples(task, config.data_dir).head(args.limit)
    base_ref, adapter_ref = sub.spec.weights_for(task.name)
    base = resolve(base_ref, sub.folder, config.local_models).folder
    adapter = resolve(adapter_ref, sub.folder, config.local_models).folder if adapter_ref else None
    ref_path = args.reference or record_path(Path("results").resolve(), sub.spec.id, task.name)
    cpu_pred = read_record(ref_path).predictions.pred[: len(examples)] if ref_path.is_file() else None
    if args.cpu_reference:
        cpu = load_classifier(base, adapter, task.labels, "fp32", "cpu")
        cpu_pred = run_classifier(cpu, examples.texts, args.batch_size, progress=False).predictions
        del cpu

    figures: dict = {
        "device_name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "torch": torch.__version__,
        "examples": len(examples),
        "runs": {},
    }
    preds = {}
    variants = [("fp32", False), ("bf16", False), ("fp16", False), ("bf16+cudnn-attention", True)]
    if not args.device.startswith("cuda"):  # fp16 and cuDNN are CUDA-only; a CPU dry run skips them
        variants = variants[:2]
    for name, cudnn in variants:
        precision = name.split("+")[0]
        clf = load_classifier(base, adapter, task.labels, precision, args.device, cudnn_attention=cudnn)
        run = run_classifier(clf, examples.texts, args.batch_size, progress=False)
        # A second pass over the same shapes separates one-off costs (kernel or plan building
        # per new shape) from steady-state speed.
        again = run_classifier(clf, examples.texts, args.batch_size, progress=False)
        preds[name] = run.predictions
        acc = agreement(run.predictions, list(examples.labels))
        figures["runs"][name] = {
            "dtype": clf.info.dtype,
            "accuracy": round(acc, 4),
            **{k: round(v, 3) for k, v in run.efficiency().items()},
            "memory_kind": run.memory_kind,
            "second_pass_wall_time_s": round(again.wall_time_s, 3),
            "agreement_with_cpu_record": None if cpu_pred is None else round(agreement(run.predictions, cpu_pred), 4),
        }
        if name == "fp32":
            figures["pipeline_vs_runner"] = _pipeline_ratio(clf, list(examples.texts), run.wall_time_s, task.labels)
        del clf
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    figures["bf16_vs_fp32_agreement"] = round(agreement(preds["bf16"], preds["fp32"]), 4)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


def _pipeline_ratio(clf, texts: list[str], runner_s: float, labels) -> dict:
    from transformers import pipeline

    pipe = pipeline("text-classification", model=clf.model, tokenizer=clf.tokenizer, device=clf.device)
    pipe(texts[:8])
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    pipe(texts)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    pipeline_s = time.perf_counter() - t0
    return {
        "pipeline_default_s": round(pipeline_s, 3),
        "runner_s": round(runner_s, 3),
        "speedup": round(pipeline_s / runner_s, 2),
    }


if __name__ == "__main__":
    main()
