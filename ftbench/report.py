"""Markdown for a pull-request comment: what the PR adds or changes, and where it would rank.

Submissions' text is untrusted and the comment is rendered by GitHub, so every contributor
string is escaped (HTML, markdown table pipes, @-mentions) before it is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from ftbench.board.read import load_board
from ftbench.board.snapshot import Board, Shard, task_tables
from ftbench.config import BoardConfig
from ftbench.display import EFFICIENCY_COLUMNS as EFFICIENCY
from ftbench.display import direction, format_value, interval_text, is_measured, metric_heading, rank_text
from ftbench.errors import FtbenchError, Issue
from ftbench.git import changed_files, changed_submissions
from ftbench.leaderboard import RankedRow, model_family
from ftbench.measure import FLAGS
from ftbench.metrics import METRICS

MARKER = "<!-- ftbench-report -->"
LEADERS_SHOWN = 3


def build_report(config: BoardConfig, base: str = "origin/main", ids: Sequence[str] = ()) -> str:
    """The pull-request comment for the submissions changed since git ``base`` (or for ``ids``),
    with the board as it is on disk. The board is read once: its submissions are validated
    together, and their issues are the ones the report lists."""
    changed = list(ids) or changed_submissions(config.root, config.submissions_dir, base)
    if changed is None:
        raise FtbenchError(f"cannot compare with git ref {base!r}; pass --base or --submission")
    files = load_board(config)
    edited = [] if ids else changed_files(config.root, config.results_dir, base) or []
    return render_report(files.board, files.shard, task_tables(files.board), changed, files.shard.issues, edited)


def escape(text: object) -> str:
    """Contributor text made inert in a GitHub comment.

    >>> escape("<b>x</b> | @team")
    '&lt;b&gt;x&lt;/b&gt; \\\\| @\\u200bteam'
    """
    out = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = out.replace("|", "\\|").replace("`", "'").replace("\n", " ")
    return re.sub(r"@(?=\w)", "@\u200b", out)


def render_report(
    board: Board,
    shard: Shard,
    tables: Mapping[str, Sequence[RankedRow]],
    changed: Iterable[str],
    issues: Sequence[Issue],
    edited_results: Sequence[str] = (),
) -> str:
    """The whole comment: one section per changed submission, then validation problems.
    ``shard`` holds every submission of the board with its records.

    ``edited_results`` lists files under results/ that the pull request itself changed:
    records come from CI, so a maintainer must not merge those.
    """
    changed = sorted(set(changed))
    lines = [MARKER, "## ftbench report", ""]
    if edited_results:
        lines += [
            "> [!WARNING]",
            "> This pull request edits result records, which only CI may write; remove these changes:",
            *[f"> - `{escape(f)}`" for f in edited_results],
            "",
        ]
    if not changed:
        lines.append("This pull request changes no submission.")
    for sub_id in changed:
        lines += _submission_section(board, shard, tables, sub_id, [i for i in issues if f"/{sub_id}/" in i.path])
    other = [i for i in issues if not any(f"/{s}/" in i.path for s in changed)]
    if other:
        lines += ["", "### Other problems on the board", "", *_issue_block(other)]
    return "\n".join(lines).rstrip() + "\n"


def _submission_section(
    board: Board, shard: Shard, tables: Mapping[str, Sequence[RankedRow]], sub_id: str, issues: Sequence[Issue]
) -> list[str]:
    spec = next((s.spec for s in shard.submissions if s.spec.id == sub_id), None)
    errors = [i for i in issues if i.severity == "error"]
    if spec is None and not errors:
        return [f"### `{escape(sub_id)}` — removed", "", "No submission.yaml in this folder any more.", ""]
    if spec is None or errors:
        return [
            f"### `{escape(sub_id)}` — ❌ not valid",
            "",
            "Fix these and push again:",
            "",
            *_issue_block(issues),
            "",
        ]
    lines = [
        f"### {escape(spec.name)} (`{escape(sub_id)}`)",
        "",
        f"{model_family(spec.model.kind, spec.fine_tuning.method)}: {escape(spec.fine_tuning.method)} "
        f"on `{escape(spec.model.base.label)}`, "
        f"submitted by {escape(spec.submitter.name)}.",
        "",
    ]
    lines += [
        "| task | score | would rank | leaders | " + " | ".join(metric_heading(m) for m in EFFICIENCY) + " |",
        "|---|---:|---:|---|" + "---:|" * len(EFFICIENCY),
    ]
    caveats = []
    for task in board.tasks:
        if task.name in spec.tasks:
            rows = tables.get(task.name, [])
            lines.append(_task_row(shard, rows, sub_id, task.name, task.primary_metric, board.reference_hardware))
            caveats += _caveat(rows, sub_id, task.name, board.reference_hardware)
    if caveats:
        lines += ["", *caveats]
    if issues:
        lines += ["", "Warnings:", "", *_issue_block(issues)]
    return [*lines, ""]


def _task_row(shard: Shard, rows: Sequence[RankedRow], sub_id: str, task: str, metric: str, reference: str) -> str:
    mine = next((r for r in rows if r.entry.submission == sub_id), None)
    if mine is None:
        status = next(
            (r.status for r in shard.records if r.record.submission.id == sub_id and r.record.task.name == task),
            "missing",
        )
        leaders = _leaders(rows, sub_id, metric)
        return f"| {task} | — ({status}: not evaluated yet) | — | {leaders} |" + " — |" * len(EFFICIENCY)
    score = format_value(metric, mine.entry.value(metric))
    ci = interval_text(metric, mine.entry.intervals.get(metric))
    notes = [f"95% CI {ci}"] if ci else []
    if not METRICS[metric].higher_is_better:  # the rare way round: say so beside the number
        notes.append(f"{direction(metric)} is better")
    score += f" ({'; '.join(notes)})" if notes else ""
    badge = " ★ Pareto" if mine.pareto else ""
    flagged = bool(mine.entry.flags(reference))
    cells = " | ".join(_cell(mine, m, flagged) for m in EFFICIENCY)
    return (
        f"| {task} | {METRICS[metric].label} {score} | {standing(rows, mine)}{badge} | "
        f"{_leaders(rows, sub_id, metric)} | {cells} |"
    )


def standing(rows: Sequence[RankedRow], mine: RankedRow) -> str:
    """A row's rank as the report states it: ``#2 of 4``, or with ties ``=1 of 4 (3rd by
    score; not significantly different from 2)``."""
    ties = mine.ties if mine.comparisons is not None else mine.sharing - 1
    if mine.sharing < 2 and not ties:
        return f"#{mine.rank} of {len(rows)}"
    position = next(i for i, r in enumerate(rows) if r is mine) + 1
    text = f"{_shown_rank(mine)} of {len(rows)}"
    order = f"{_ordinal(position)} by score; " if position != mine.rank else ""
    return f"{text} ({order}not significantly different from {ties})" if ties else text


def _shown_rank(row: RankedRow) -> str:
    """``#2``, or ``=1`` when another row shares the rank."""
    shown = rank_text(row.rank, row.sharing)
    return shown if shown.startswith("=") else "#" + shown


def _ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``22nd``."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _cell(row: RankedRow, metric: str, flagged: bool) -> str:
    """An efficiency figure as the table shows it, marked ⚑ when measured and flagged."""
    value = row.entry.efficiency.get(metric)
    mark = " ⚑" if flagged and value is not None and is_measured(metric) else ""
    return format_value(metric, value) + mark


def _caveat(rows: Sequence[RankedRow], sub_id: str, task: str, reference: str) -> list[str]:
    """A line under the table when the submission's figures on ``task`` are flagged or come
    from a profile other than the board's ``reference``: shown, not compared with the others."""
    mine = next((r for r in rows if r.entry.submission == sub_id), None)
    flags = mine.entry.flags(reference) if mine else ()
    if not flags:
        return []
    where = f"measured on `{escape(mine.entry.hardware or 'unknown hardware')}`"  # type: ignore[union-attr]
    if "other-hardware" in flags:
        where += f", not the board's reference `{escape(reference)}`"
    named = "; ".join(f"**{f}**: {FLAGS[f]}" for f in flags if f != "other-hardware")
    return [
        f"- ⚑ **{escape(task)}**: {where}{'; flags: ' + named if named else ''}. "
        "Its latency, throughput and memory (marked ⚑) are not compared with the board's: no badge."
    ]


def _leaders(rows: Sequence[RankedRow], sub_id: str, metric: str) -> str:
    top = [r for r in rows if r.entry.submission != sub_id][:LEADERS_SHOWN]
    if not top:
        return "first entry"
    return "; ".join(
        f"{_shown_rank(r)} {escape(r.entry.name)} {format_value(metric, r.entry.metrics.get(metric))}" for r in top
    )


def _issue_block(issues: Sequence[Issue]) -> list[str]:
    text = "\n".join(str(i).replace("```", "'''") for i in issues)
    return ["```text", text, "```"]
