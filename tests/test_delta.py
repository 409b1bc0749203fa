"""A rebuild from the last build's state (``ftbench.site.delta``) makes the site a full build
makes of the same inputs, byte for byte, with the same page keys and the same notes, after
every kind of change a pull request or a maintainer makes: a record measured again or made
anew, a card or a spec edited, a submission added, withdrawn or broken, a record forged,
gone or gone stale; and one rebuild after another (each starts from the state the last
left). Each case also checks that the rebuild did not fall back to the full build."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from ftbench.config import load_config
from ftbench.site import MANIFEST, build_site
from ftbench.submissions import load_submission
from ftbench.tasks import load_examples, load_tasks
from site_fixtures import FLAGGED, make_site_board, site_files, write_record


@pytest.fixture
def board(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    return make_site_board(tmp_path / "board")


@pytest.fixture
def full_builds(monkeypatch) -> list[int]:
    """Counts the full builds (the rebuild's fallback) from now on."""
    import ftbench.site.build as builder

    calls: list[int] = []
    whole = builder._build
    monkeypatch.setattr(builder, "_build", lambda *args, **kwargs: calls.append(1) or whole(*args, **kwargs))
    return calls


def manifest(site: Path) -> tuple[list[str], dict[str, str]]:
    """The files a build lists and each page's key (without the stamp of its file)."""
    doc = json.loads((site / MANIFEST).read_text())
    return doc["files"], {path: kept[0] for path, kept in doc["keys"].items()}


def assert_same_as_a_full_build(root: Path, tmp_path: Path, report, name: str) -> None:
    """The rebuilt site equals a full build's of the same inputs: its files, the files and the
    page keys its manifest lists, and the notes it gave."""
    config = load_config(root)
    clean = config.with_overrides(site_dir=tmp_path / f"clean-{name}")
    full = build_site(clean, force=True, workers=1)
    assert site_files(config.site_dir) == site_files(clean.site_dir)
    assert manifest(config.site_dir) == manifest(clean.site_dir)
    assert report.notes == full.notes
    assert report.pages == full.pages and report.records == full.records


# ------------------------------------------------------------------ the changes


def _spec(root: Path, sub_id: str):
    config = load_config(root)
    return load_submission(root / "submissions" / sub_id, load_tasks(config.tasks_dir)).spec


def _gold(root: Path, task: str) -> list[int]:
    config = load_config(root)
    return list(load_examples(load_tasks(config.tasks_dir)[task], config.data_dir).labels)


def new_predictions(root: Path) -> None:
    """delta-head's sentiment record made anew: it overtakes three entries."""
    tasks = load_tasks(load_config(root).tasks_dir)
    write_record(
        root,
        _spec(root, "delta-head"),
        tasks["sentiment"],
        _gold(root, "sentiment"),
        0.75,
        16,
        latency_ms=9.0,
        **FLAGGED,
    )


def measured_again(root: Path) -> None:
    """beta-full's sentiment record with new efficiency figures, the same predictions."""
    path = root / "results" / "beta-full" / "sentiment.json"
    record = json.loads(path.read_text())
    for name, value in (("latency_ms", 0.4), ("model_memory_mb", 5000.0)):
        record["efficiency"].update({name: value, f"{name}_lo": value * 0.99, f"{name}_hi": value * 1.01})
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def card_edited(root: Path) -> None:
    card = root / "submissions" / "alpha-lora" / "README.md"
    card.write_text(card.read_text() + "\nA line more.\n")


def renamed(root: Path) -> None:
    """gamma-ia3's display name: on every page that names it (its records' stamps stay)."""
    path = root / "submissions" / "gamma-ia3" / "submission.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["name"] = "Gamma, renamed"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))


def relicensed(root: Path) -> None:
    """alpha-lora's license: the home page's license filter lists it (its records' stamps stay)."""
    path = root / "submissions" / "alpha-lora" / "submission.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["license"] = "cc-by-4.0"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))


def withdrawn(root: Path) -> None:
    """delta-head's folder removed, its records left (a note says so)."""
    shutil.rmtree(root / "submissions" / "delta-head")


def withdrawn_whole(root: Path) -> None:
    shutil.rmtree(root / "submissions" / "epsilon-prompted")
    shutil.rmtree(root / "results" / "epsilon-prompted")


def added(root: Path) -> None:
    """A new submission, on two tasks: a copy of alpha-lora under another id and date."""
    shutil.copytree(root / "submissions" / "alpha-lora", root / "submissions" / "alpha-two")
    path = root / "submissions" / "alpha-two" / "submission.yaml"
    spec = yaml.safe_load(path.read_text())
    spec.update(id="alpha-two", name="Alpha two", date="2026-04-01")
    spec["tasks"] = {"sentiment": spec["tasks"]["sentiment"], "topics": spec["tasks"]["topics"]}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    tasks = load_tasks(load_config(root).tasks_dir)
    for task, accuracy in (("sentiment", 0.95), ("topics", 0.5)):
        write_record(root, _spec(root, "alpha-two"), tasks[task], _gold(root, task), accuracy, 21)


def broken(root: Path) -> None:
    """zeta-sft's spec made invalid: skipped, its records not shown."""
    path = root / "submissions" / "zeta-sft" / "submission.yaml"
    path.write_text(path.read_text().replace("method: sft", "method: not-a-method"))


def forged(root: Path) -> None:
    """alpha-lora's topics score forged: the record is refused."""
    path = root / "results" / "alpha-lora" / "topics.json"
    record = json.loads(path.read_text())
    record["metrics"]["f1_macro"] = 0.999
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def record_gone(root: Path) -> None:
    (root / "results" / "alpha-lora" / "sentiment.json").unlink()


def gone_stale(root: Path) -> None:
    """beta-full's weights changed: every record of it is stale."""
    weights = root / "submissions" / "beta-full" / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes() + b" ")


def orphan_records(root: Path) -> None:
    """A records folder with no submission: a note, nothing shown."""
    shutil.copytree(root / "results" / "alpha-lora", root / "results" / "nobody")


def two_at_once(root: Path) -> None:
    new_predictions(root)
    card_edited(root)


CHANGES: list[Callable[[Path], None]] = [
    new_predictions,
    measured_again,
    card_edited,
    renamed,
    relicensed,
    withdrawn,
    withdrawn_whole,
    added,
    broken,
    forged,
    record_gone,
    gone_stale,
    orphan_records,
    two_at_once,
]


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: c.__name__)
def test_a_rebuild_after_a_change_makes_what_a_full_build_makes(board, tmp_path, full_builds, change):
    config = load_config(board)
    build_site(config, workers=1)
    full_builds.clear()
    change(board)
    report = build_site(config, workers=1)
    assert full_builds == [], "the rebuild fell back to a full build"
    assert_same_as_a_full_build(board, tmp_path, report, change.__name__)


def test_rebuilds_one_after_another_keep_a_state_true_to_the_board(board, tmp_path, full_builds):
    config = load_config(board)
    build_site(config, workers=1)
    full_builds.clear()
    for step, change in enumerate([added, new_predictions, renamed, measured_again, withdrawn, card_edited, forged]):
        change(board)
        full_builds.clear()
        report = build_site(config, workers=1)
        assert full_builds == [], f"{change.__name__}: the rebuild fell back to a full build"
        assert_same_as_a_full_build(board, tmp_path, report, f"{step}-{change.__name__}")
    assert build_site(config, workers=1).skipped  # and then nothing is left to do


SCORED_TASKS = ("sentiment", "topics", "intents")


def _classifier_records(root: Path) -> list[Path]:
    """The records of the classifiers' folders that are still submitted, on tasks with data."""
    return sorted(
        path
        for path in (root / "results").glob("*/*.json")
        if (root / "submissions" / path.parent.name).is_dir()
        and path.stem in SCORED_TASKS
        and not path.parent.name.startswith(("epsilon", "zeta"))
    )


def _random_change(rng, root: Path, label: str) -> str:
    """One change a pull request or a maintainer might make, drawn at random (drawn again
    until one can be made); says which."""
    for _ in range(20):
        done = _try_change(rng, root, label)
        if done:
            return done
    raise AssertionError("no change could be made")


def _try_change(rng, root: Path, label: str) -> str | None:
    tasks = load_tasks(load_config(root).tasks_dir)
    records = _classifier_records(root)
    kind = rng.choice(
        ["rescored", "rescored", "remeasured", "added", "withdrawn", "card", "forged", "renamed", "relicensed"]
    )
    if kind == "rescored" and records:
        path = rng.choice(records)
        sub, task = path.parent.name, path.stem
        accuracy = rng.choice([0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95, 1.0])  # ties with others are likely
        write_record(
            root,
            _spec(root, sub),
            tasks[task],
            _gold(root, task),
            accuracy,
            rng.randrange(1, 50),
            latency_ms=rng.choice([0.5, 1.0, 2.0, 6.0, 9.0]),
            model_memory_mb=float(rng.choice([300, 700, 900, 2000])),
        )
        return f"{kind} {sub}/{task} at {accuracy}"
    if kind == "remeasured" and records:
        path = rng.choice(records)
        record = json.loads(path.read_text())
        for name in ("latency_ms", "model_memory_mb"):
            value = rng.choice([0.3, 1.0, 3.0, 10.0]) * (1 if name == "latency_ms" else 500)
            record["efficiency"].update({name: value, f"{name}_lo": value * 0.97, f"{name}_hi": value * 1.03})
        path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        return f"{kind} {path.parent.name}/{path.stem}"
    if kind == "added":
        sub = f"added-{label}"
        shutil.copytree(root / "submissions" / "alpha-lora", root / "submissions" / sub)
        spec_path = root / "submissions" / sub / "submission.yaml"
        spec = yaml.safe_load(spec_path.read_text())
        chosen = sorted(rng.sample(SCORED_TASKS, rng.randint(1, 3)))
        spec.update(id=sub, name=f"Added {label}", date=f"2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}")
        spec["tasks"] = {task: spec["tasks"].get(task) for task in chosen}
        spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
        for task in chosen:
            write_record(
                root, _spec(root, sub), tasks[task], _gold(root, task), rng.choice([0.6, 0.8, 0.9]), rng.randrange(50)
            )
        return f"{kind} {sub} on {', '.join(chosen)}"
    if kind == "withdrawn":
        # any submitted classifier but alpha-lora (what "added" copies); its records kept or not
        candidates = sorted(
            p.name for p in (root / "submissions").iterdir() if p.name.startswith(("added-", "beta", "gamma", "delta"))
        )
        if candidates:
            sub = rng.choice(candidates)
            shutil.rmtree(root / "submissions" / sub)
            whole = rng.random() < 0.5
            if whole:
                shutil.rmtree(root / "results" / sub, ignore_errors=True)
            return f"{kind} {sub}{' with its records' if whole else ''}"
    present = sorted(p.name for p in (root / "submissions").iterdir() if not p.name.startswith(("epsilon", "zeta")))
    if kind == "card" and present:
        card = root / "submissions" / rng.choice(present) / "README.md"
        card.write_text(card.read_text() + f"\nEdit {label}.\n")
        return f"{kind} {card.parent.name}"
    if kind == "forged" and records:
        path = rng.choice(records)
        record = json.loads(path.read_text())
        record["metrics"]["accuracy"] = 0.999
        path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        return f"{kind} {path.parent.name}/{path.stem}"
    if kind in ("renamed", "relicensed") and present:
        path = root / "submissions" / rng.choice(present) / "submission.yaml"
        spec = yaml.safe_load(path.read_text())
        if kind == "renamed":
            spec["name"] = f"Renamed {label}"
        else:
            spec["license"] = rng.choice(["mit", "cc-by-4.0", "other"])
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        return f"{kind} {path.parent.name}"
    return None


@pytest.mark.parametrize("seed", range(6))
def test_random_runs_of_changes_rebuild_to_what_a_full_build_makes(board, tmp_path, full_builds, seed):
    """Seeded runs of random changes (scores made anew with ties likely, figures measured again,
    submissions added and withdrawn, cards edited, records forged, names and licenses changed), one or two
    at a time: after each, the rebuild from the kept state equals a full build's site."""
    import random

    rng = random.Random(seed)
    config = load_config(board)
    build_site(config, workers=1)
    done: list[str] = []
    for step in range(6):
        done += [_random_change(rng, board, f"{seed}{step}{i}") for i in range(rng.choice([1, 1, 2]))]
        full_builds.clear()
        report = build_site(config, workers=1)
        assert full_builds == [], f"fell back to a full build after: {done}"
        assert not report.skipped, f"no change seen after: {done}"
        try:
            assert_same_as_a_full_build(board, tmp_path, report, f"{seed}-{step}")
        except AssertionError as err:
            raise AssertionError(f"after {done}: {err}") from err


def test_a_rebuild_falls_back_to_the_full_build_when_it_cannot_start_from_the_state(board, tmp_path, full_builds):
    config = load_config(board)
    build_site(config, workers=1)
    state = config.cache_dir / "build" / "state"
    full_builds.clear()
    (state / "sentiment.bin").write_bytes(b"not a task's entries")  # damaged: read again, as a whole
    new_predictions(board)
    report = build_site(config, workers=1)
    assert full_builds == [1]
    assert_same_as_a_full_build(board, tmp_path, report, "damaged")
    (board / "pages" / "about.md").write_text("# About\n\nEdited.\n")  # a shared input: every page
    full_builds.clear()
    build_site(config, workers=1)
    assert full_builds == [1]
    shutil.rmtree(state)  # none at all
    card_edited(board)
    full_builds.clear()
    report = build_site(config, workers=1)
    assert full_builds == [1]
    assert_same_as_a_full_build(board, tmp_path, report, "none")


def test_a_rebuild_touches_only_the_pages_that_show_what_changed(board):
    config = load_config(board)
    build_site(config, workers=1)
    before = site_files(config.site_dir)
    measured_again(board)
    report = build_site(config, workers=1)
    after = site_files(config.site_dir)
    changed = {path for path in after if after[path] != before.get(path)}
    # new costs: beta-full's page, the sentiment ranking (its cells, charts, fronts), its downloads,
    # and the record's copy; its comparisons and example browser show no cost and stay
    assert changed == {
        "models/beta-full.html",
        "tasks/sentiment.html",
        "downloads/sentiment/leaderboard.json",
        "downloads/sentiment/leaderboard.csv",
        "downloads/all-tasks.csv",
        "records/beta-full/sentiment.json",
        "index.html",  # beta-full is among sentiment's top rows, whose latency the home page shows
    }
    assert report.pages - report.kept == 3


@pytest.mark.parametrize("change", [new_predictions, added, measured_again], ids=lambda c: c.__name__)
def test_a_rebuild_sharing_its_pages_with_a_second_process_makes_the_same_site(
    board, tmp_path, full_builds, change, monkeypatch
):
    import ftbench.site.delta as delta

    monkeypatch.setattr(delta, "SPLIT_PAGES", 2)  # the board is small: share out even a few pages
    config = load_config(board)
    build_site(config, workers=2)
    full_builds.clear()
    change(board)
    report = build_site(config, workers=2)  # a changed task's charts, and half the pages, in a second process
    assert full_builds == []
    assert_same_as_a_full_build(board, tmp_path, report, change.__name__)


def test_a_site_folder_another_build_wrote_last_is_not_rebuilt_from_the_state(board, tmp_path, full_builds):
    """The state belongs to the site folder of the build that kept it: a preview built beside
    it, or a site folder restored from an older copy, is built whole."""
    config = load_config(board)
    preview = config.with_overrides(site_dir=tmp_path / "preview")
    build_site(config, workers=1)
    build_site(preview, workers=1)
    card_edited(board)
    build_site(config, workers=1)  # from the state: its stamp is the main site's now
    full_builds.clear()
    report = build_site(preview, workers=1)
    assert full_builds == [1]  # the preview's manifest is of another build than the state's
    assert site_files(preview.site_dir) == site_files(config.site_dir) and not report.skipped


def test_a_task_file_left_by_another_build_is_not_taken_for_the_kept_one(board, tmp_path, full_builds):
    config = load_config(board)
    build_site(config, workers=1)
    state = config.cache_dir / "build" / "state"
    older = (state / "sentiment.bin").read_bytes()
    new_predictions(board)
    build_site(config, workers=1)  # sentiment's entries kept anew
    (state / "sentiment.bin").write_bytes(older)  # put back the earlier one (same shared inputs)
    measured_again(board)
    full_builds.clear()
    report = build_site(config, workers=1)
    assert full_builds == [1]  # its key is not the one board.json names: the whole board is read
    assert_same_as_a_full_build(board, tmp_path, report, "older")


def _forge_header(path: Path, forge: Callable[[dict], None]) -> None:
    """Rewrite the JSON header of a kept task file (``board.packed``) after ``forge``."""
    from ftbench.board import packed
    from ftbench.site.state import ARRAYS, TASK_MAGIC

    meta, arrays = packed.unpack(TASK_MAGIC, path.read_bytes(), ARRAYS)
    forge(meta)
    path.write_bytes(packed.pack(TASK_MAGIC, meta, {k: v.copy() for k, v in arrays.items()}, packed.exact_json))


HOSTILE_STATES = {
    "board.json nested 100,000 deep": ("board.json", lambda p: p.write_bytes(b"[" * 100_000 + b"]" * 100_000)),
    "board.json 50 MB of null bytes": ("board.json", lambda p: p.write_bytes(b"\0" * 50_000_000)),
    "board.json of the wrong kinds": (
        "board.json",
        lambda p: p.write_text(p.read_text().replace('"current":', '"current":"many","was":', 1)),
    ),
    "a task file cut short": ("sentiment.bin", lambda p: p.write_bytes(p.read_bytes()[:1000])),
    "a task file whose header claims arrays past its end": (
        "sentiment.bin",
        lambda p: p.write_bytes(p.read_bytes().replace(b'"pred":["<i2",0,', b'"pred":["<i2",999999999,', 1)),
    ),
    "a task file of pickled objects": (
        "sentiment.bin",
        lambda p: p.write_bytes(p.read_bytes().replace(b'"pred":["<i2"', b'"pred":["|O8"', 1)),
    ),
    "a task file whose entries point past its results": (
        "sentiment.bin",
        lambda p: _forge_header(p, lambda meta: meta["entries"][0]["at"]["pred"].__setitem__(1, 10**9)),
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_STATES))
def test_a_damaged_or_hostile_state_is_refused_and_the_whole_board_read(board, tmp_path, full_builds, name):
    config = load_config(board)
    build_site(config, workers=1)
    target, damage = HOSTILE_STATES[name]
    damage(config.cache_dir / "build" / "state" / target)
    new_predictions(board)  # on sentiment: its kept entries are needed
    full_builds.clear()
    report = build_site(config, workers=1)
    assert full_builds == [1]
    assert_same_as_a_full_build(board, tmp_path, report, "hostile")


def _other(value):
    """A different value of the same kind (None: a number)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value * 1.37 + 1
    if isinstance(value, str):
        return value + "-changed"
    if isinstance(value, tuple):
        return tuple(_other(v) for v in value)
    return 7.0


def _perturbations(entry):
    """``(what, entry changed in that one thing)`` for every field of an entry the pages
    compare on, and every key of its metrics, efficiency figures and intervals."""
    import dataclasses

    for f in dataclasses.fields(entry):
        if not f.compare:
            continue  # per-example results and stamps: keyed by their own digests
        value = getattr(entry, f.name)
        if isinstance(value, dict | type(entry.metrics)) and hasattr(value, "items"):
            for key, inner in value.items():
                yield f"{f.name}[{key}]", dataclasses.replace(entry, **{f.name: {**value, key: _other(inner)}})
        elif value is not None:
            yield f.name, dataclasses.replace(entry, **{f.name: _other(value)})


def test_the_home_pages_key_changes_whenever_what_it_shows_of_a_row_does(board):
    """Every field of a task's leading entry changed in turn (each metric, efficiency figure
    and interval too): wherever the home page shows the change, the task's part of the home
    page's key (``pages.home_task_digest``) changes with it, so a rebuild makes the page again.
    (A license left out of the key once kept a stale license filter.)"""
    import dataclasses

    from ftbench.board.read import load_board
    from ftbench.board.snapshot import task_tables
    from ftbench.site.pages import board_common, home_context, home_task_digest
    from ftbench.site.render import environment

    config = load_config(board)
    loaded = load_board(config).board
    tables = task_tables(loaded)
    common = board_common(loaded)
    template = environment(config.templates_dir).get_template("home.html.j2")

    def home(tables) -> str:
        return template.render(home_context(loaded, tables, None, common))

    before = home(tables)
    missed, checked = [], 0
    for task in loaded.tasks:
        rows = tables.get(task.name)
        if not rows:
            continue
        digest = home_task_digest(task, rows, "quality", loaded.reference_hardware)
        for what, changed in _perturbations(rows[0].entry):
            new_rows = [dataclasses.replace(rows[0], entry=changed), *rows[1:]]
            if home({**tables, task.name: new_rows}) == before:
                continue  # the home page does not show it
            checked += 1
            if home_task_digest(task, new_rows, "quality", loaded.reference_hardware) == digest:
                missed.append(f"{task.name}: {what}")
    assert checked > 10 and missed == []


def test_every_field_of_an_entry_survives_the_kept_state(board):
    """Each field of a board's entries (each metric, figure and interval too) changed in turn
    comes back from ``state.entry_document``/``entry_of`` as it went in: a field added to
    ``Entry`` and not kept would come back as its default, and a rebuild would show that."""
    import dataclasses

    from ftbench.board.read import load_board
    from ftbench.site.state import entry_document, entry_of

    def again(entry):
        doc = json.loads(json.dumps(entry_document(entry)))
        return entry_of({**doc, "outcome": None}, {})

    entries = [e for rows in load_board(load_config(board)).board.summary.entries.values() for e in rows]
    seen = set()
    for entry in entries:
        for what, changed in [("as read", entry), *_perturbations(entry)]:
            assert again(changed) == dataclasses.replace(changed, outcome=None), what
            seen.add(what.split("[")[0])
    compared = {f.name for f in dataclasses.fields(entries[0]) if f.compare}
    assert compared - seen <= {"calibration", "contamination"}  # None on every entry of this board


def test_a_rebuild_draws_again_only_the_charts_whose_points_moved(board, tmp_path, full_builds, monkeypatch):
    """A record measured again moves its point on the latency and the memory charts of its
    task; a new latency alone leaves the memory chart as it was: it comes from the kept charts.
    A kept chart under another key (another board's, or tampered with) is drawn again."""
    from ftbench.site import charts

    config = load_config(board)
    build_site(config, workers=1)
    drawn: list[str] = []
    scatter = charts.scatter_figure
    monkeypatch.setattr(charts, "scatter_figure", lambda p, c: drawn.append(c.chart_id) or scatter(p, c))
    path = board / "results" / "beta-full" / "sentiment.json"
    record = json.loads(path.read_text())
    record["efficiency"].update({"latency_ms": 0.4, "latency_ms_lo": 0.39, "latency_ms_hi": 0.41})
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    full_builds.clear()
    build_site(config, workers=1)
    assert full_builds == [] and drawn == ["chart-latency_ms"]
    # the kept memory chart, with a forged drawing under another key: not taken
    kept = config.cache_dir / "build" / "charts" / "sentiment.chart-model_memory_mb.svg.html"
    key, _, body = kept.read_bytes().partition(b"\n")
    kept.write_bytes(b"0" * len(key) + b"\n<script>forged</script>" + body)
    drawn.clear()
    record["efficiency"].update({"model_memory_mb": 4000.0, "model_memory_mb_lo": 3990.0, "model_memory_mb_hi": 4010.0})
    record["efficiency"].update({"latency_ms": 0.5, "latency_ms_lo": 0.49, "latency_ms_hi": 0.51})
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    report = build_site(config, workers=1)
    assert full_builds == [] and sorted(drawn) == ["chart-latency_ms", "chart-model_memory_mb"]
    assert b"forged" not in (config.site_dir / "tasks" / "sentiment.html").read_bytes()
    assert_same_as_a_full_build(board, tmp_path, report, "memory")


def _parts_counted(monkeypatch) -> tuple[list[tuple[str, str]], list[str]]:
    """The sections ``(submission, task)`` and the cards rendered from now on."""
    import ftbench.site.model_page as model_page

    rendered: list[tuple[str, str]] = []
    view = model_page.result_view
    monkeypatch.setattr(
        model_page,
        "result_view",
        lambda r, *a, **k: rendered.append((r.record.submission.id, r.record.task.name)) or view(r, *a, **k),
    )
    cards: list[str] = []
    card = model_page.render_card
    monkeypatch.setattr(model_page, "render_card", lambda text: cards.append(text) or card(text))
    return rendered, cards


def _manifest_doc(site: Path) -> dict:
    return json.loads((site / MANIFEST).read_text())


def test_a_model_page_made_again_renders_only_the_sections_that_changed(board, tmp_path, full_builds, monkeypatch):
    """delta-head's sentiment record made anew overtakes three entries: their model pages
    are made again for their sentiment standing, but their sections of other tasks (the
    language models' wiki, gamma-ia3's stale topics) and their cards are taken from the pages
    the last build wrote. A part the manifest names under another key is rendered again; an
    edited card is rendered again."""
    config = load_config(board)
    build_site(config, workers=1)
    doc = _manifest_doc(config.site_dir)
    entry = doc["keys"]["models/zeta-sft.html"]
    assert len(entry) == 3 and {p[0] for p in entry[2]} == {"#card", "sentiment", "wiki"}
    page = (config.site_dir / "models" / "zeta-sft.html").read_bytes()
    for _, _, start, end, _ in entry[2]:  # each part where the manifest says
        assert page[start:end].startswith(b"<") and page[start:end].rstrip().endswith(b">")
    # zeta-sft's wiki section named under another key: rendered again
    for part in entry[2]:
        if part[0] == "wiki":
            part[1] = "0" * len(part[1])
    (config.site_dir / MANIFEST).write_text(json.dumps(doc))
    rendered, cards = _parts_counted(monkeypatch)
    new_predictions(board)
    full_builds.clear()
    report = build_site(config, workers=1)
    assert full_builds == []
    moved = {sub for sub, _ in rendered}
    assert moved == {"delta-head", "epsilon-prompted", "gamma-ia3", "zeta-sft"}
    # every sentiment section of the moved pages, and the one under another key; no other
    assert set(rendered) == {(sub, "sentiment") for sub in moved} | {("zeta-sft", "wiki")}
    assert cards == []  # the moved pages' cards are as they were
    card_edited(board)  # alpha-lora's card: rendered again, and only it
    report = build_site(config, workers=1)
    assert full_builds == [] and len(cards) == 1 and "A line more." in cards[0]
    assert_same_as_a_full_build(board, tmp_path, report, "sections")


def _shift(entry: list) -> None:
    for part in entry[2]:
        part[2], part[3] = part[2] + 7, part[3] + 7


def _too_far(entry: list) -> None:
    for part in entry[2]:
        part[2], part[3] = 10**9, 10**9 + 5


def _not_parts(entry: list) -> None:
    entry[2] = [["#card", entry[2][0][1], -1, "9", entry[2][0][4]], "wiki"]


@pytest.mark.parametrize("damage", [_shift, _too_far, _not_parts], ids=lambda d: d.__name__)
def test_a_page_whose_parts_are_misplaced_or_malformed_comes_out_as_a_full_build_makes_it(
    board, tmp_path, full_builds, monkeypatch, damage
):
    """The manifest names where each part lies in a page; a part that is not where it says
    (its bytes have another digest), or an entry not as a build writes it, never breaks a
    page: the part is rendered again."""
    config = load_config(board)
    build_site(config, workers=1)
    doc = _manifest_doc(config.site_dir)
    for path in ("models/zeta-sft.html", "models/delta-head.html", "models/gamma-ia3.html"):
        damage(doc["keys"][path])
    (config.site_dir / MANIFEST).write_text(json.dumps(doc))
    new_predictions(board)
    full_builds.clear()
    report = build_site(config, workers=1)
    assert full_builds == []
    assert_same_as_a_full_build(board, tmp_path, report, damage.__name__)


def test_a_page_changed_since_the_last_build_is_made_whole_and_its_change_not_carried(
    board, tmp_path, full_builds, monkeypatch
):
    """A model page changed by hand (or by a checkout) after the build has another stamp:
    none of its parts is taken from it, so nothing written into it reaches the next page."""
    config = load_config(board)
    build_site(config, workers=1)
    page = config.site_dir / "models" / "zeta-sft.html"
    doc = _manifest_doc(config.site_dir)
    _, _, start, end, _ = next(p for p in doc["keys"]["models/zeta-sft.html"][2] if p[0] == "wiki")
    data = page.read_bytes()
    forged = b"<script>forged</script>"
    page.write_bytes(data[:start] + forged + data[start + len(forged) : end] + data[end:])
    rendered, cards = _parts_counted(monkeypatch)
    new_predictions(board)
    full_builds.clear()
    report = build_site(config, workers=1)
    assert full_builds == []
    assert ("zeta-sft", "wiki") in rendered and len(cards) >= 1
    assert b"forged" not in page.read_bytes()
    assert_same_as_a_full_build(board, tmp_path, report, "edited")


def test_a_rebuild_prunes_the_caches_only_when_a_submission_or_task_left_the_board(
    board, tmp_path, full_builds, monkeypatch
):
    """A withdrawn submission's cached records go, as in the full build; a rebuild that
    leaves the board's submissions and tasks as they were does not walk the caches."""
    import ftbench.board.record_cache as record_cache

    config = load_config(board)
    build_site(config, workers=1)
    walks: list[set[str]] = []
    prune = record_cache.prune
    monkeypatch.setattr(record_cache, "prune", lambda folder, subs: walks.append(set(subs)) or prune(folder, subs))
    full_builds.clear()
    measured_again(board)
    build_site(config, workers=1)
    assert full_builds == [] and walks == []
    withdrawn_whole(board)
    report = build_site(config, workers=1)
    assert full_builds == [] and len(walks) == 1 and "epsilon-prompted" not in walks[0] and "alpha-lora" in walks[0]
    assert_same_as_a_full_build(board, tmp_path, report, "withdrawn")


def test_a_rendered_model_page_leaves_none_of_its_parts_held(board, monkeypatch):
    """A page's context holds its parts' maker until the build ends; once the page is
    rendered, the maker holds neither the parts nor the last build's page (the peak memory
    of a full build, or of a rebuild that makes 1,500 model pages, grew by their size)."""
    import ftbench.site.kept_sections as kept_sections

    makers: list = []
    maker = kept_sections.KeptSections.maker
    monkeypatch.setattr(
        kept_sections.KeptSections, "maker", lambda self, path: makers.append(maker(self, path)) or makers[-1]
    )
    config = load_config(board)
    build_site(config, workers=1)
    new_predictions(board)
    build_site(config, workers=1)
    assert len(makers) > 5
    for parts in makers:
        assert parts.made == [] and not parts._bytes


def test_a_page_whose_parts_all_changed_key_is_not_read(board, monkeypatch):
    """After a change of the shared inputs (here a page of the site's own) every part's key
    changes: the build makes every model page again without reading the last build's pages."""
    import ftbench.site.kept_sections as kept_sections

    config = load_config(board)
    build_site(config, workers=1)
    reads: list[int] = []
    read = kept_sections.KeptParts._read
    monkeypatch.setattr(kept_sections.KeptParts, "_read", lambda self: reads.append(1) or read(self))
    (board / "pages" / "about.md").write_text("# About\n\nEdited.\n")
    report = build_site(config, workers=1)
    assert reads == [] and report.pages > 0
    new_predictions(board)  # now the moved pages' other parts are taken, each page read once
    build_site(config, workers=1)
    assert 0 < len(reads) <= 4
