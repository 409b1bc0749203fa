"""Speed of ftbench's classification runner against the transformers pipeline default loop.

Both score the same texts with the same loaded model, in the same process; the script checks
that the predictions are identical and prints the ratio. Target (issue 2): at least 3x on the
SST-2 test split with a MiniLM classifier on a 2-core CPU.

    python benchmarks/bench_eval_speed.py                       # bundled SST-2 LoRA submission
    python benchmarks/bench_eval_speed.py --limit 300 --batch-size 32
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ftbench.config import load_config
from ftbench.jobs import plan_jobs
from ftbench.models.backends import load_model
from ftbench.runner import run_classifier
from ftbench.submissions import load_submissions
from ftbench.tasks import load_examples

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submission", default="submissions/minilm-lora-r8")
    parser.add_argument("--task", default="sst2")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--repeat", type=int, default=2, help="alternate both loops this many times and keep each one's best time"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    from transformers import pipeline

    config = load_config(ROOT)
    board = load_submissions(config, [ROOT / args.submission]).require_valid()
    [job] = plan_jobs(board, config, only_tasks=[args.task])
    task = job.task
    texts = list(load_examples(task, config.data_dir).head(args.limit).texts)
    clf = load_model(job, config, args.device).model  # the model `ftbench evaluate` would load

    pipe = pipeline("text-classification", model=clf.model, tokenizer=clf.tokenizer, device=clf.device)
    pipe(texts[:8])  # warm-up, as the runner does
    label_id = {name: i for i, name in enumerate(task.labels)}
    pipeline_times, runner_times = [], []
    for _ in range(args.repeat):  # alternate, so that drift in machine speed hits both alike
        t0 = time.perf_counter()
        outputs = pipe(texts)
        pipeline_times.append(time.perf_counter() - t0)
        pipeline_pred = [label_id[o["label"]] for o in outputs]
        run = run_classifier(clf, texts, batch_size=args.batch_size, progress=False, single_latency_samples=0)
        runner_times.append(run.wall_time_s)
    pipeline_s, runner_s = min(pipeline_times), min(runner_times)
    identical = run.predictions == pipeline_pred
    figures = {
        "task": task.name,
        "examples": len(texts),
        "device": str(clf.device),
        "pipeline_default_s": round(pipeline_s, 2),
        "ftbench_runner_s": round(runner_s, 2),
        "speedup": round(pipeline_s / runner_s, 2),
        "batch_size": args.batch_size,
        "pipeline_runs_s": [round(t, 2) for t in pipeline_times],
        "runner_runs_s": [round(t, 2) for t in runner_times],
        "identical_predictions": identical,
        "disagreements": sum(a != b for a, b in zip(run.predictions, pipeline_pred, strict=True)),
    }
    print(json.dumps(figures, indent=2))
    print(
        f"\nftbench runner is {figures['speedup']}x the pipeline default loop "
        f"({figures['pipeline_default_s']} s -> {figures['ftbench_runner_s']} s, "
        f"{len(texts)} texts, predictions {'identical' if identical else 'DIFFER'}); target >= 3x"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
