"""What produces records: ``plan``, ``evaluate``, ``verify``, ``collect``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ftbench.cli.common import batch_size_option, board_config, fail_cleanly, task_option, threads_option
from ftbench.errors import FtbenchError, display_path


@click.command()
@click.argument("submissions", nargs=-1, type=click.Path(path_type=Path))
@task_option
@batch_size_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "github-matrix"]), default="text", show_default=True
)
@click.option("--all", "show_all", is_flag=True, help="Also list pairs whose record is current.")
@click.pass_context
@fail_cleanly
def plan(
    ctx: click.Context,
    submissions: tuple[Path, ...],
    only_tasks: tuple[str, ...],
    batch_size: int | None,
    fmt: str,
    show_all: bool,
) -> None:
    """List the (submission, task) pairs whose record is missing or stale, and why.

    Reads no model: the content key is computed from the files on disk.

    \b
    Example:
      ftbench plan
      ftbench plan --format github-matrix   # for a CI job matrix
    """
    from ftbench.jobs import github_matrix, plan_jobs, plan_rows
    from ftbench.submissions import load_submissions

    config = board_config(ctx)
    jobs = plan_jobs(load_submissions(config, submissions).require_valid(), config, batch_size, None, only_tasks)
    shown = jobs if show_all else [j for j in jobs if j.pending]
    if fmt == "github-matrix":
        click.echo(github_matrix(jobs))
    elif fmt == "json":
        click.echo(json.dumps(plan_rows(shown), indent=2))
    else:
        for j in shown:
            click.echo(f"{j.status:8} {j.name:45} {j.why}")
        click.echo(f"{sum(j.pending for j in jobs)} of {len(jobs)} pair(s) to evaluate", err=True)


@click.command()
@click.argument("submissions", nargs=-1, type=click.Path(path_type=Path))
@task_option
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Score only the first N examples (a quick check; "
    "written as <task>.limitN.json, never over a complete record).",
)
@click.option(
    "--results-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where records go (default: the board's results/).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Data directory (default: [tool.ftbench] data_dir or FTBENCH_DATA_DIR).",
)
@batch_size_option
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option(
    "--changed",
    is_flag=True,
    help="Only pairs that `ftbench plan` lists (missing or stale); this is also what happens without --force.",
)
@click.option("--force", is_flag=True, help="Re-evaluate even when the record is current.")
@threads_option
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.pass_context
@fail_cleanly
def evaluate(
    ctx: click.Context,
    submissions: tuple[Path, ...],
    only_tasks: tuple[str, ...],
    limit: int | None,
    results_dir: Path | None,
    data_dir: Path | None,
    batch_size: int | None,
    device: str,
    changed: bool,
    force: bool,
    threads: int | None,
    no_progress: bool,
) -> None:
    """Evaluate submissions on their tasks and write one JSON record per (submission, task).

    With no SUBMISSIONS, evaluates every submission of the board. Pairs whose record is
    current (same content key) are skipped and load no model, unless --force.

    \b
    Example:
      ftbench evaluate submissions/minilm-lora-r8 --task sst2 --limit 100
      ftbench evaluate --changed            # everything missing or stale
    """
    from ftbench.evaluate import EvalSettings, evaluate_pending

    if changed and force:
        raise FtbenchError("--changed and --force contradict each other")
    config = board_config(ctx, data_dir=data_dir, results_dir=results_dir)
    if batch_size not in (None, config.batch_size) and results_dir is None:
        raise FtbenchError(
            f"--batch-size {batch_size}: this board's records are made at batch size {config.batch_size}, so the "
            "records would not be current and would replace current ones; pass --results-dir to keep them apart"
        )

    def planned(jobs: list) -> None:
        todo = sum(j.pending for j in jobs)
        click.echo(f"{len(jobs)} pair(s): {todo} to evaluate, {len(jobs) - todo} current", err=True)

    finished = _finished_line
    report = evaluate_pending(
        config,
        submissions,
        EvalSettings(batch_size=batch_size, device=device, limit=limit, progress=not no_progress, threads=threads),
        only_tasks,
        force,
        on_plan=planned,
        on_record=finished,
    )
    for issue in report.issues:
        click.echo(str(issue), err=True)
    if report.failed:
        click.echo(f"{len(report.failed)} of {len(report.failed) + len(report.done)} pair(s) failed", err=True)
    if report.invalid:
        sys.exit(2)
    if report.failed:
        sys.exit(1)


def _finished_line(job, record, why: str) -> None:
    """One line per finished pair: its score, its speed, where the record went, and the
    validity flags of its efficiency figures."""
    if record is None:
        click.echo(f"{job.name} FAILED: {why}", err=True)
        return
    metric, eff = job.task.primary_metric, record.efficiency
    speed = f"{eff['examples_per_s']:.0f} ex/s" if job.task.type == "classification" and "examples_per_s" in eff else ""
    if "prefill_tokens_per_s" in eff:
        speed = f"{speed} {eff['prefill_tokens_per_s']:.0f} tok/s".strip()
    if isinstance(eff.get("latency_ms"), (int, float)):
        speed = f"{speed}, batch-1 {eff['latency_ms']:.1f} ms".lstrip(", ")
    flags = (eff.get("validity") or {}).get("flags") or []
    warn = f" [efficiency flagged: {', '.join(flags)}]" if flags else ""
    click.echo(
        f"{job.name} ({job.status}): {metric}={record.metrics[metric]:.4f} n={record.task.num_examples} "
        f"{speed}{warn} -> {display_path(job.output)}"
    )


@click.command()
@click.argument("submissions", nargs=-1, type=click.Path(path_type=Path))
@task_option
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Data directory (default: [tool.ftbench] data_dir or FTBENCH_DATA_DIR).",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@threads_option
@click.pass_context
@fail_cleanly
def measure(
    ctx: click.Context,
    submissions: tuple[Path, ...],
    only_tasks: tuple[str, ...],
    data_dir: Path | None,
    device: str,
    threads: int | None,
) -> None:
    """Measure the efficiency of current records again on this machine, without re-scoring.

    Latency, throughput, memory (and an adapter's unmerged cost) are taken again and the
    record's hardware and versions replaced; predictions, metrics and content keys are kept.
    Run it alone on the board's reference machine, so that every figure comes from one
    hardware profile (a busy machine is flagged, and its figures earn no badge).

    \b
    Example:
      ftbench measure                          # every current record
      ftbench measure submissions/minilm-ia3 --task sst2
    """
    from ftbench.evaluate import EvalSettings, remeasure_current

    config = board_config(ctx, data_dir=data_dir)
    report = remeasure_current(
        config, submissions, EvalSettings(device=device, threads=threads), only_tasks, on_record=_finished_line
    )
    for issue in report.issues:
        click.echo(str(issue), err=True)
    click.echo(f"{len(report.done)} record(s) measured again, {len(report.failed)} failed", err=True)
    if report.invalid:
        sys.exit(2)
    if report.failed:
        sys.exit(1)


@click.command()
@click.argument("record", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sample", default=64, show_default=True, type=click.IntRange(min=1), help="Examples to re-run.")
@click.option("--seed", type=click.IntRange(min=0), help="Seed of the sample [default: a new one each run].")
@click.option("--device", default="auto", show_default=True)
@click.option(
    "--tolerance",
    type=float,
    help="Largest allowed change of the stored label's probability "
    "[default: by precision: fp32 1e-3, fp16 2e-2, bf16 3e-2, int8/int4 5e-2].",
)
@click.pass_context
@fail_cleanly
def verify(
    ctx: click.Context, record: Path, sample: int, seed: int | None, device: str, tolerance: float | None
) -> None:
    """Re-run a random sample of a record's examples and report agreement and drift.

    Exits 1 when a stored label's probability moved beyond --tolerance on any sampled
    example, or another label overtook it by more than that. A changed label within the
    tolerance was a near-tie: reported, not drift.

    \b
    Example:
      ftbench verify results/minilm-lora-r8/sst2.json --sample 100
    """
    from ftbench.verify import verify_record

    result = verify_record(record, board_config(ctx), sample, seed, device)
    limit = result.tolerance if tolerance is None else tolerance
    if result.recorded_accuracy != result.recorded_accuracy:  # NaN: a perplexity record's documents
        click.echo(
            f"{display_path(record)}: {result.sampled} documents re-scored (seed {result.seed}, {result.precision}), "
            f"{result.agreement:.2%} within tolerance {limit:g}, largest relative change of a document's "
            f"log-likelihood {result.max_prob_diff:.2e}"
        )
        if result.drifted(limit):
            click.echo("DRIFT: the record does not reproduce", err=True)
            sys.exit(1)
        return
    click.echo(
        f"{display_path(record)}: {result.sampled} examples re-run (seed {result.seed}, {result.precision}), "
        f"label agreement {result.agreement:.2%}, max probability difference {result.max_prob_diff:.2e} (tolerance "
        f"{limit:g}); accuracy on the sample {result.recorded_accuracy:.4f} recorded, "
        f"{result.rerun_accuracy:.4f} now"
    )
    if result.stale:
        click.echo("note: the record is stale; the re-run used the current files", err=True)
    if result.differing_idx:
        click.echo(f"changed predictions at idx {', '.join(map(str, result.differing_idx[:20]))}", err=True)
    if result.drifted(limit):
        click.echo("DRIFT: the record does not reproduce", err=True)
        sys.exit(1)
    if result.differing_idx:
        click.echo("the changed predictions are near-ties (within the tolerance): not drift", err=True)


@click.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.pass_context
@fail_cleanly
def collect(ctx: click.Context, sources: tuple[Path, ...]) -> None:
    """Merge records made by separate CI jobs into results/ (current, complete records only).

    Collecting the same pair twice is harmless: the record that finished first is kept.

    \b
    Example:
      ftbench collect artifacts/records-*
    """
    from ftbench.collect import collect_records

    for line in collect_records(sources, board_config(ctx)):
        click.echo(line)


COMMANDS = (plan, evaluate, measure, verify, collect)
