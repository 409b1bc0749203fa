"""How long does ``ftbench build`` take on a large board?

Writes a synthetic board of N submissions x M tasks (default 1,000 x 10 = 10,000 result records
of 1,000-2,000 per-example predictions each, written exactly as ``ftbench evaluate`` writes
them) into a temporary folder, then times, through the real command line:

- a full build from nothing (``--force``) into an empty site folder, and the same build in one
  process (its peer), alternately, twice each (the best of each is printed, and both runs),
- a rebuild with nothing changed (the input stamp matches: nothing is read or written),
- a rebuild after one record was measured again (new efficiency figures, the same predictions;
  twice, the best printed): from the state the last build kept (``ftbench.site.delta``), only
  that folder is read, its task's fronts marked anew on its kept quality ranking
  (``ftbench.board.ranking_cache``), and only the pages that show the change made;
- a rebuild after one record was scored anew, twice (other predictions: its task ranked
  again, and the pages of every entry whose standing moved made again);

and checks the result byte for byte against a clean build (``--force``: every record read and
proved anew, every task ranked) of the same inputs.

    python benchmarks/bench_build.py                     # 1,000 x 10
    python benchmarks/bench_build.py --submissions 100   # a quick run

Prints the figures; asserts nothing (timings depend on the machine and its load).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ftbench.record import dumps
from ftbench.testing import (
    current_key,
    submission_ref,
    submission_spec,
    synthetic_efficiency,
    synthetic_provenance,
    synthetic_record,
    write_submission,
    write_task,
)

ROOT = Path(__file__).resolve().parents[1]
LABEL_COUNTS = (2, 3, 4, 6, 2, 5, 14, 20, 2, 77)
METHODS = ("lora", "full", "ia3", "qlora", "head-only")
PATTERNS = 8  # distinct prediction sets per task, shared by many records (only setup cost)
CARD = """# {name}

A synthetic submission for the build benchmark.

## Training

| setting | value |
|---|---|
| learning rate | 1e-3 |
| epochs | 3 |

- trained on the task's train split
- evaluated on the held-out split

```
python scripts/finetune.py {id}
```
"""


BATCH = 32


def make_board(root: Path, n_subs: int, n_tasks: int) -> int:
    """Write tasks, data, submissions and records; returns the number of records."""
    (root / "pyproject.toml").write_text(
        f'[tool.ftbench]\ntemplates_dir = "{(ROOT / "templates").as_posix()}"\n'
        f'pages_dir = "{(ROOT / "pages").as_posix()}"\ntitle = "Benchmark board"\n'
        f"batch_size = {BATCH}\n"  # the board's records are made at this batch size: all current
    )
    tasks = []
    for t in range(n_tasks):
        n_labels = LABEL_COUNTS[t % len(LABEL_COUNTS)]
        size = 1000 + (1000 * t) // max(n_tasks - 1, 1)
        gold = [(i * 7 + i // 3) % n_labels for i in range(size)]
        task = write_task(root, f"task{t:02d}", [f"label_{k}" for k in range(n_labels)], gold)
        tasks.append((task, gold, _patterns(task, gold)))
    count = 0
    for i in range(n_subs):
        sub_id = f"sub-{i:04d}"
        spec = write_submission(
            root,
            submission_spec(sub_id, [t.name for t, _, _ in tasks], method=METHODS[i % len(METHODS)]),
            card=CARD.format(name=sub_id, id=sub_id),
        )
        for j, (task, gold, patterns) in enumerate(tasks):
            _write_record(root, spec, task, len(gold), patterns[(i + j) % PATTERNS], seed=i * 100 + j)
            count += 1
    return count


def _patterns(task, gold) -> list[tuple[dict, str]]:
    """Record bodies (without the per-submission parts) and their predictions' JSON text."""
    out = []
    for k in range(PATTERNS):
        record = synthetic_record(
            submission_ref_stub(),
            task,
            gold,
            accuracy=0.6 + 0.05 * k,
            seed=k,
            content_key="0" * 64,
            provenance=synthetic_provenance(),
        )
        body = record.model_dump(mode="json")
        predictions = json.dumps(body.pop("predictions"), sort_keys=True, indent=1, ensure_ascii=False)
        out.append((body, predictions.replace("\n", "\n ")))
    return out


def submission_ref_stub():
    """A placeholder submission block, replaced per record."""
    from ftbench.record import SubmissionRef

    return SubmissionRef(id="x", name="x", method="lora", base="x", adapter=None, precision="fp32")


def _write_record(root: Path, spec, task, n: int, pattern: tuple[dict, str], seed: int) -> None:
    # json.dumps with indent is slow in pure Python, so the predictions' text is rendered once
    # per pattern and spliced in; the bytes equal record.dumps() (checked once in main).
    body, predictions = pattern
    key, parts = current_key(spec, root / "submissions" / spec.id, task, BATCH)
    doc = {
        **body,
        "content_key": key,
        "content_key_parts": parts,
        "submission": submission_ref(spec, task.name).model_dump(mode="json"),
        "efficiency": synthetic_efficiency(seed, n, BATCH),
        "predictions": "\0PREDICTIONS\0",
    }
    text = json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    path = root / "results" / spec.id / f"{task.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.replace('"\\u0000PREDICTIONS\\u0000"', predictions))


def check_splice(root: Path) -> None:
    """The spliced files are byte-identical to what ``ftbench evaluate`` would write."""
    from ftbench.record import read_record

    path = next((root / "results").glob("*/*.json"))
    assert dumps(read_record(path)) == path.read_text(), "spliced record differs from record.dumps"


def timed_build(root: Path, *args: str) -> tuple[float, float, str]:
    """Run ``ftbench build`` in a fresh process: (wall seconds, CPU seconds of it and its
    workers, its output). CPU time shows the cost when other work shares the machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "ftbench", "--root", str(root), "build", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout.strip().split(" -> ")[0]


def import_time(root: Path) -> float:
    """Seconds a rebuild spends starting Python and importing modules: one more rebuild, run
    in one process with ``-X importtime`` (not timed itself: the option slows it), its
    top-level imports' cumulative times summed, plus the start of a bare interpreter."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ftbench", "--root", str(root), "build", "--workers", "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    # "import time: <self us> | <cumulative us> | <name>", nested names indented under their importer
    rows = [line.split("|") for line in out.stderr.splitlines() if line.startswith("import time:")]
    top = [int(cumulative) for _, cumulative, name in rows if cumulative.strip().isdigit() and name[1:2] != " "]
    imports = sum(top) / 1e6
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return imports + (time.perf_counter() - start)


def _touch_one_record(root: Path) -> None:
    """Replace one record by a copy with a different latency (as a re-evaluation would)."""
    path = next((root / "results").glob("*/*.json"))
    text = path.read_text()
    marker = '"latency_ms": '
    at = text.index(marker) + len(marker)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text[:at] + "1" + text[at:])  # 3.2 -> 13.2: still valid, now slower
    tmp.replace(path)


def _rescore_record(root: Path, sub_id: str, task_name: str) -> None:
    """Replace one record by one of other predictions (the next of the task's patterns), as a
    re-evaluation after another fine-tune would: its ranks, and others', move."""
    from ftbench.config import load_config
    from ftbench.record import read_record
    from ftbench.submissions import load_submission
    from ftbench.tasks import load_examples, load_tasks

    config = load_config(root)
    task = load_tasks(config.tasks_dir)[task_name]
    gold = list(load_examples(task, config.data_dir).labels)
    spec = load_submission(root / "submissions" / sub_id, load_tasks(config.tasks_dir)).spec
    patterns = _patterns(task, gold)
    now = read_record(root / "results" / sub_id / f"{task_name}.json").metrics
    k = next(k for k in range(PATTERNS) if patterns[k][0]["metrics"] != now)  # other predictions
    _write_record(root, spec, task, len(gold), patterns[k], seed=99_999)


def _site_files(site: Path) -> dict[str, bytes]:
    """Every file of a built site but the build manifest (which records how it was built)."""
    return {
        p.relative_to(site).as_posix(): p.read_bytes()
        for p in sorted(site.rglob("*"))
        if p.is_file() and p.name != ".ftbench-build.json"
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="Keep the temporary board.")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ftbench-bench-"))
    try:
        start = time.perf_counter()
        n = make_board(root, args.submissions, args.tasks)
        check_splice(root)
        size = sum(p.stat().st_size for p in (root / "results").glob("*/*.json"))
        print(
            f"board: {args.submissions} submissions x {args.tasks} tasks = {n} records, "
            f"{size / 2**20:.0f} MiB of records, written in {time.perf_counter() - start:.1f} s"
        )
        # Flush the board's 450 MB to disk first: otherwise the kernel writes it back during the
        # first build, which then measures the setup's I/O as much as the build (about 2 s here).
        os.sync()
        time.sleep(2)
        # Byte-compile ftbench first, as ``pip install`` does: an editable install (or a shell with
        # PYTHONDONTWRITEBYTECODE set) would otherwise compile ~25 modules from source in every
        # timed run, about 0.09 s of each rebuild here, which no installed copy pays.
        compileall.compile_dir(str(ROOT / "ftbench"), quiet=1)
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} before the builds")
        # Full builds into empty folders, alternating with the peer (the same build in one
        # process), twice each: the best of each pair is the least disturbed by whatever else
        # runs on the machine (on this VM, timings drift by up to 40% between minutes).
        full, peer = [], []
        for attempt in range(2):
            # --force: from nothing, with no proofs or records kept from the build before
            full.append(timed_build(root, "--force", "--site-dir", str(root / f"site-full-{attempt}")))
            peer.append(timed_build(root, "--force", "--workers", "1", "--site-dir", str(root / f"site-one-{attempt}")))
        (wall, cpu, out), (one, one_cpu, _) = min(full), min(peer)
        print(
            f"full build:            {wall:6.2f} s wall, {cpu:6.2f} s CPU, {1000 * wall / n:.2f} ms per record  [{out}]"
        )
        print(f"  both runs:           {', '.join(f'{r[0]:.2f} s' for r in full)}")
        downloads = (root / "site-full-0" / "downloads").glob("*/leaderboard.json")
        ranked = sum(len(json.loads(p.read_text())["rows"]) for p in downloads)
        print(f"  ranked:              {ranked} of {n} records (each audited: metrics and intervals recomputed)")
        assert ranked == n, "every synthetic record is current and consistent, so every one must be ranked"
        print(
            f"  peer, one process:   {one:6.2f} s wall, {one_cpu:6.2f} s CPU (runs: "
            f"{', '.join(f'{r[0]:.2f} s' for r in peer)}); sharded: {one / wall:.2f}x as fast"
        )
        # the rebuilds start from a built site (its build manifest included, so nothing changed);
        # copying it is also a floor under any full build: writing the site's files, nothing else
        start = time.perf_counter()
        shutil.copytree(root / "site-full-0", root / "site", symlinks=True)
        copied = time.perf_counter() - start
        files = sum(1 for p in (root / "site").rglob("*") if p.is_file())
        megabytes = sum(p.stat().st_size for p in (root / "site").rglob("*") if p.is_file()) / 2**20
        print(f"  floor: copying the built site ({files} files, {megabytes:,.0f} MiB) takes {copied:.2f} s")
        os.sync()  # the copy's 459 MiB reach the disk now, not during the rebuilds timed next
        time.sleep(2)
        wall, cpu, out = timed_build(root)
        print(f"rebuild, no change:    {wall:6.2f} s wall, {cpu:6.2f} s CPU  [{out}]")
        rebuilds = []
        for _ in range(2):  # twice: a new latency in the same record each time
            _touch_one_record(root)
            rebuilds.append(timed_build(root))
        wall, cpu, out = min(rebuilds)
        print(f"rebuild, 1 record measured again: {wall:6.2f} s wall, {cpu:6.2f} s CPU  [{out}]")
        print(f"  both runs:           {', '.join(f'{r[0]:.2f} s ({r[1]:.2f} s CPU)' for r in rebuilds)}")
        _touch_one_record(root)
        print(f"  floor: starting Python and importing what this rebuild imports takes {import_time(root):.2f} s")
        # a record scored anew (other predictions, so other ranks): what a new fine-tune brings
        n_subs, n_tasks = args.submissions, args.tasks
        for sub_id, task in (
            (f"sub-{n_subs // 2:04d}", f"task{3 % n_tasks:02d}"),
            (f"sub-{n_subs // 3:04d}", f"task{6 % n_tasks:02d}"),
        ):
            _rescore_record(root, sub_id, task)
            wall, cpu, out = timed_build(root)
            print(f"rebuild, {sub_id}/{task} re-scored: {wall:6.2f} s wall, {cpu:6.2f} s CPU  [{out}]")
        # the incremental site must be the site a clean build makes of the same inputs
        clean = root / "site-clean"
        timed_build(root, "--force", "--site-dir", str(clean))  # every record read and proved anew
        same = _site_files(root / "site") == _site_files(clean)
        print(f"  byte-identical to a clean build of the same inputs: {'yes' if same else 'NO'}")
        assert same, "the incremental rebuild differs from a clean build"
    finally:
        if args.keep:
            print(f"board kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
