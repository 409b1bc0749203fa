"""ftbench's classification pass against the transformers pipeline and the fp32 roofline.

In one process, alternated over ``--repeat`` rounds (best time of each), on the same texts:

- **ftbench**: ``run_classifier`` on the model ``ftbench evaluate`` loads (length-bucketed
  batches; the long ones one at a time on all threads, the rest side by side, one thread
  each); its time includes tokenising;
- **pipeline default** and **pipeline(batch_size=64)**: ``transformers.pipeline`` on the same
  loaded model, as a user would run it;
- **roofline**: the model's forward FLOPs for the real (non-padding) tokens — 2 x the encoder's
  linear weights per token, plus the attention products and the pooler/classifier per text —
  over the matrix-multiply rate (``F.linear`` at the model's own shapes and 4,096 rows) taken
  just before and just after each ftbench run. The pass computes its last layer at the first
  token only (``ftbench.models.first_token``: the head reads nothing else), so it runs fewer
  FLOPs than the model's; those it runs over the same rates are printed too, as the measure of
  how close its arithmetic comes to the hardware. Each round's ratio is ftbench's time over the
  roofline at the mean of those two rates; the headline is the median round (on a VM whose
  speed drifts, a rate taken in another minute flatters or wrongs the method). The best time
  over the best rate is printed too.

Memory: each method's peak is measured in a fresh process of its own (this script run with
``--memory-of``: the model loaded, then one whole pass; the exact high-water mark on Linux,
and what the pass added over what was resident before it), so that none inherits the
allocator pools another left.

Printed: each method's time, ratios to ftbench, ftbench over the roofline (each round),
agreement of the predictions, and each method's peak memory. Issue #11's targets on the
2-core CPU: ftbench <= 1.25x the roofline, >= 3x the pipeline default, >= 2x
pipeline(batch_size=64), identical predictions, ftbench's peak memory not above the batched
pipeline's (the default scores one text at a time: shown beside it). Run it alone.

    python benchmarks/bench_eval_speed.py                       # bundled SST-2 LoRA submission
    python benchmarks/bench_eval_speed.py --limit 300 --repeat 2
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ftbench.config import load_config
from ftbench.efficiency import PeakMemory
from ftbench.jobs import plan_jobs
from ftbench.models.backends import load_model
from ftbench.provenance import cpu_flags, cpu_model
from ftbench.runner import run_classifier
from ftbench.submissions import load_submissions
from ftbench.tasks import load_examples

ROOT = Path(__file__).resolve().parents[1]


def matmul_rate(shapes: list[tuple[int, int]], rows: int = 4096, repeat: int = 20) -> float:
    """Best FLOP/s of ``F.linear`` over the (in, out) shapes at ``rows`` rows."""
    import torch

    best = 0.0
    with torch.inference_mode():
        for k, n in shapes:
            x, linear = torch.randn(rows, k), torch.nn.Linear(k, n)
            for _ in range(3):
                linear(x)
            t0 = time.perf_counter()
            for _ in range(repeat):
                linear(x)
            best = max(best, 2 * rows * k * n * repeat / (time.perf_counter() - t0))
    return best


def forward_flops(model, lengths: list[int]) -> float:
    """Forward FLOPs of a BERT-style classifier on texts of ``lengths`` real tokens."""
    config = model.config
    encoder_linear = sum(
        m.in_features * m.out_features for n, m in model.named_modules() if _is_linear(m) and ".encoder." in f".{n}."
    )
    head_linear = sum(
        m.in_features * m.out_features
        for n, m in model.named_modules()
        if _is_linear(m) and ".encoder." not in f".{n}."
    )
    layers, hidden = config.num_hidden_layers, config.hidden_size
    tokens = sum(lengths)
    attention = sum(4 * length * length * hidden * layers for length in lengths)  # QK^T and AV
    return 2 * encoder_linear * tokens + attention + 2 * head_linear * len(lengths)


def first_token_saving(model, lengths: list[int]) -> float:
    """FLOPs the scoring pass leaves out when its last layer runs at the first token only
    (``ftbench.models.first_token``): that layer's query, attention output, output projection
    and feed-forward products at every other position, and their attention products."""
    from ftbench.models.first_token import last_layers

    layers = last_layers(model)
    if layers is None:
        return 0.0
    last = layers[-1]
    per_row = sum(
        m.in_features * m.out_features
        for n, m in last.named_modules()
        if _is_linear(m)
        and not n.startswith(("attention.self.key", "attention.self.value"))
        and "lora" not in n
        and "ia3" not in n
    )
    hidden = model.config.hidden_size
    rows = sum(lengths) - len(lengths)
    return 2 * per_row * rows + sum(4 * (length * length - length) * hidden for length in lengths)


def _is_linear(module) -> bool:
    return hasattr(module, "in_features") and hasattr(module, "out_features")


def setup(args) -> tuple:
    """The model ``ftbench evaluate`` would load, the task's texts, and the methods to time."""
    import torch
    from transformers import pipeline

    config = load_config(ROOT)
    board = load_submissions(config, [ROOT / args.submission]).require_valid()
    [job] = plan_jobs(board, config, only_tasks=[args.task])
    task = job.task
    texts = list(load_examples(task, config.data_dir).head(args.limit).texts)
    clf = load_model(job, config, "cpu").model
    pipe = pipeline("text-classification", model=clf.model, tokenizer=clf.tokenizer, device=clf.device)
    pipe(texts[:8])  # warm-up, as the runner does
    methods = {
        "ftbench": lambda: run_classifier(
            clf, texts, batch_size=args.batch_size, progress=False, policy=None, threads=torch.get_num_threads()
        ),
        "pipeline default": lambda: pipe(texts),
        f"pipeline(batch_size={args.batch_size})": lambda: pipe(texts, batch_size=args.batch_size),
    }
    return task, texts, clf, methods


def memory_of(args) -> dict:
    """Peak memory of one method in this (fresh) process: the model loaded as for the timed
    rounds, then one whole pass; its peak, and what it added over the resident memory just
    before the pass."""
    *_, methods = setup(args)
    fn = methods[args.memory_of]
    with PeakMemory() as loaded:
        pass
    with PeakMemory() as peak:
        fn()
    return {"peak_mb": round(peak.peak_mb, 1), "added_mb": round(peak.peak_mb - loaded.baseline_mb, 1)}


def memory_in_fresh_processes(args, names: list[str]) -> dict[str, dict]:
    """Each method's memory measured in its own new process (:func:`memory_of`), so that none
    inherits the allocator pools or the high-water mark another left behind."""
    figures = {}
    for name in names:
        command = [sys.executable, __file__, "--submission", args.submission, "--task", args.task]
        command += ["--batch-size", str(args.batch_size), "--memory-of", name]
        if args.limit is not None:
            command += ["--limit", str(args.limit)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        figures[name] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submission", default="submissions/minilm-lora-r8")
    parser.add_argument("--task", default="sst2")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="alternate the methods this many times")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)  # internal: one method's memory, in a child
    args = parser.parse_args()
    if args.memory_of:
        print(json.dumps(memory_of(args)))
        return

    import torch

    task, texts, clf, methods = setup(args)
    label_id = {name: i for i, name in enumerate(task.labels)}
    shapes = sorted(
        {(m.in_features, m.out_features) for n, m in clf.model.named_modules() if isinstance(m, torch.nn.Linear)}
    )
    rates: list[float] = []  # the matrix-multiply rate, taken in every round like the methods' times
    beside: list[float] = []  # per round: the rate taken just before and just after ftbench, averaged
    times: dict[str, list[float]] = {m: [] for m in methods}
    outputs: dict = {}
    for _ in range(args.repeat):  # alternate, so that drift in machine speed hits all alike
        for name, fn in methods.items():
            before = matmul_rate(shapes) if name == "ftbench" else None
            t0 = time.perf_counter()
            out = fn()
            elapsed = time.perf_counter() - t0
            if before is not None:
                after = matmul_rate(shapes)
                rates += [before, after]
                beside.append((before + after) / 2)
            times[name].append(out.wall_time_s if name.startswith("ftbench") else elapsed)
            outputs[name] = out
    run = outputs["ftbench"]
    predictions = {
        name: out.predictions if name.startswith("ftbench") else [label_id[o["label"]] for o in out]
        for name, out in outputs.items()
        if name != "ftbench"
    }
    memory = memory_in_fresh_processes(args, list(methods))

    lengths = clf.token_lengths(texts)
    flops = forward_flops(clf.model, lengths)
    shortcut = any(note.startswith("scoring pass: the last encoder layer") for note in clf.info.notes)
    executed = flops - (first_token_saving(clf.model, lengths) if shortcut else 0.0)
    rate = max(rates)
    roofline_s = flops / rate
    paired = [t * r / flops for t, r in zip(times["ftbench"], beside, strict=True)]
    paired_executed = [t * r / executed for t, r in zip(times["ftbench"], beside, strict=True)]
    best = {name: min(t) for name, t in times.items()}
    batched = f"pipeline(batch_size={args.batch_size})"
    figures = {
        "task": task.name,
        "examples": len(texts),
        "tokens": sum(lengths),
        "batch_size": args.batch_size,
        "hardware": {
            "cpu": cpu_model(),
            "cpu_flags": cpu_flags(),
            "machine": platform.machine(),
            "torch_threads": torch.get_num_threads(),
        },
        "model_notes": list(clf.info.notes),
        "ftbench_streams": run.streams,
        "seconds": {name: [round(t, 3) for t in ts] for name, ts in times.items()},
        "best_s": {name: round(t, 3) for name, t in best.items()},
        "over_ftbench": {name: round(t / best["ftbench"], 2) for name, t in best.items() if name != "ftbench"},
        "forward_tflop": round(flops / 1e12, 4),
        "matmul_gflop_s": round(rate / 1e9, 1),
        "matmul_gflop_s_beside_each_ftbench_run": [round(r / 1e9, 1) for r in beside],
        "roofline_s": round(roofline_s, 3),
        "ftbench_over_roofline_best": round(best["ftbench"] / roofline_s, 3),
        "ftbench_over_roofline_each_round": [round(p, 3) for p in paired],
        "ftbench_over_roofline": round(statistics.median(paired), 3),
        # the FLOPs the pass runs (the model's, less what its shortcut leaves out) over the same
        # rates: how close its arithmetic itself comes to the matrix-multiply rate
        "executed_tflop": round(executed / 1e12, 4),
        "ftbench_executed_over_rate": round(statistics.median(paired_executed), 3),
        "identical_predictions": {name: pred == run.predictions for name, pred in predictions.items()},
        "peak_memory_mb_fresh_process": memory,
    }
    print(json.dumps(figures, indent=2))
    peers = ", ".join(f"{name} {figures['best_s'][name]} s ({r}x)" for name, r in figures["over_ftbench"].items())
    same = all(figures["identical_predictions"].values())
    print(
        f"\nftbench {figures['best_s']['ftbench']} s on {len(texts)} texts ({figures['tokens']:,} tokens); "
        f"{peers}; ftbench over the roofline: {figures['ftbench_over_roofline']}x (median of {len(paired)} rounds, "
        f"each against the matrix-multiply rate taken beside it; best time over best rate "
        f"{figures['ftbench_over_roofline_best']}x at {rate / 1e9:.0f} GFLOP/s; the FLOPs it runs, "
        f"{figures['executed_tflop']} of the model's {figures['forward_tflop']} TFLOP, over the same rates: "
        f"{figures['ftbench_executed_over_rate']}x); "
        f"predictions {'identical' if same else 'DIFFER'}; peak memory (fresh process each) ftbench "
        f"{memory['ftbench']['peak_mb']:.0f} MiB vs {batched} {memory[batched]['peak_mb']:.0f} MiB "
        f"(pipeline default {memory['pipeline default']['peak_mb']:.0f} MiB, one text at a time). "
        "Targets: <= 1.25x roofline, >= 3x default, >= 2x batched, memory not above the batched pipeline's"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
