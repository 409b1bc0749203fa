"""ftbench's classification pass against the transformers pipeline and the fp32 roofline.

In one process, alternated, best time of each over ``--repeat`` rounds, on the same texts:

- **ftbench**: ``run_classifier`` on the model ``ftbench evaluate`` loads (length-sorted
  batches, as many side by side as torch has threads, one thread each); its time includes
  tokenising;
- **pipeline default** and **pipeline(batch_size=64)**: ``transformers.pipeline`` on the same
  loaded model, as a user would run it;
- **roofline**: the model's forward FLOPs for the real (non-padding) tokens — 2 x the encoder's
  linear weights per token, plus the attention products and the pooler/classifier per text —
  over the best matrix-multiply rate measured in this run (``F.linear`` at the model's own
  shapes and a large row count, taken in every round beside the methods: on a VM whose speed
  drifts, a rate taken once can fall in a slow minute and flatter every method).

Printed: each method's time, ratios to ftbench, ftbench over the roofline, agreement of the
predictions, and each method's peak memory (exact high-water mark on Linux, with the memory
the method added over what was resident when it started). Issue #11's targets on the 2-core
CPU: ftbench <= 1.25x the roofline, >= 3x the pipeline default, >= 2x pipeline(batch_size=64),
identical predictions, ftbench's peak memory not above the pipeline's. Run it alone.

    python benchmarks/bench_eval_speed.py                       # bundled SST-2 LoRA submission
    python benchmarks/bench_eval_speed.py --limit 300 --repeat 2
"""

from __future__ import annotations

import argparse
import json
import platform
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


def _is_linear(module) -> bool:
    return hasattr(module, "in_features") and hasattr(module, "out_features")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submission", default="submissions/minilm-lora-r8")
    parser.add_argument("--task", default="sst2")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="alternate the methods this many times; best of each")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    import torch
    from transformers import pipeline

    config = load_config(ROOT)
    board = load_submissions(config, [ROOT / args.submission]).require_valid()
    [job] = plan_jobs(board, config, only_tasks=[args.task])
    task = job.task
    texts = list(load_examples(task, config.data_dir).head(args.limit).texts)
    loaded = load_model(job, config, "cpu")  # the model `ftbench evaluate` would load
    clf = loaded.model

    label_id = {name: i for i, name in enumerate(task.labels)}
    pipe = pipeline("text-classification", model=clf.model, tokenizer=clf.tokenizer, device=clf.device)
    pipe(texts[:8])  # warm-up, as the runner does
    methods = {
        "ftbench": lambda: run_classifier(
            clf, texts, batch_size=args.batch_size, progress=False, policy=None, threads=torch.get_num_threads()
        ),
        "pipeline default": lambda: pipe(texts),
        f"pipeline(batch_size={args.batch_size})": lambda: pipe(texts, batch_size=args.batch_size),
    }
    shapes = sorted(
        {(m.in_features, m.out_features) for n, m in clf.model.named_modules() if isinstance(m, torch.nn.Linear)}
    )
    rates: list[float] = []  # the matrix-multiply rate, taken in every round like the methods' times
    times: dict[str, list[float]] = {m: [] for m in methods}
    memory: dict[str, dict] = {}
    outputs: dict = {}
    for _ in range(args.repeat):  # alternate, so that drift in machine speed hits all alike
        rates.append(matmul_rate(shapes))
        for name, fn in methods.items():
            with PeakMemory() as peak:
                t0 = time.perf_counter()
                out = fn()
                elapsed = time.perf_counter() - t0
            times[name].append(out.wall_time_s if name.startswith("ftbench") else elapsed)
            outputs[name] = out
            seen = memory.setdefault(name, {"peak_mb": 0.0, "added_mb": 0.0})
            seen["peak_mb"] = max(seen["peak_mb"], peak.peak_mb)
            seen["added_mb"] = max(seen["added_mb"], peak.peak_mb - peak.baseline_mb)
    run = outputs["ftbench"]
    predictions = {
        name: out.predictions if name.startswith("ftbench") else [label_id[o["label"]] for o in out]
        for name, out in outputs.items()
        if name != "ftbench"
    }

    lengths = clf.token_lengths(texts)
    flops = forward_flops(clf.model, lengths)
    rate = max(rates)
    roofline_s = flops / rate
    best = {name: min(t) for name, t in times.items()}
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
        "matmul_gflop_s_each_round": [round(r / 1e9, 1) for r in rates],
        "roofline_s": round(roofline_s, 3),
        "ftbench_over_roofline": round(best["ftbench"] / roofline_s, 3),
        "identical_predictions": {name: pred == run.predictions for name, pred in predictions.items()},
        "peak_memory_mb": {name: {k: round(v, 1) for k, v in m.items()} for name, m in memory.items()},
    }
    print(json.dumps(figures, indent=2))
    peers = ", ".join(f"{name} {figures['best_s'][name]} s ({r}x)" for name, r in figures["over_ftbench"].items())
    same = all(figures["identical_predictions"].values())
    print(
        f"\nftbench {figures['best_s']['ftbench']} s on {len(texts)} texts ({figures['tokens']:,} tokens); "
        f"{peers}; roofline {figures['roofline_s']} s at {rate / 1e9:.0f} GFLOP/s (best of {len(rates)} rounds) "
        "-> ftbench is "
        f"{figures['ftbench_over_roofline']}x the roofline; predictions {'identical' if same else 'DIFFER'}; "
        f"peak memory ftbench {memory['ftbench']['peak_mb']:.0f} MiB vs pipeline "
        f"{max(m['peak_mb'] for n, m in memory.items() if n.startswith('pipeline')):.0f} MiB. "
        "Targets: <= 1.25x roofline, >= 3x default, >= 2x batched"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
