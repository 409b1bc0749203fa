"""The static site: golden output, hostile input, reproducibility, incremental builds, CLI."""

from __future__ import annotations

import base64
import csv
import difflib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest
from click.testing import CliRunner

from ftbench.cli import main
from ftbench.config import load_config
from ftbench.display import value_at_precision
from ftbench.site import MANIFEST, build_site
from ftbench.site.context import LEADER_PAIRS
from ftbench.site.pages import NOT_FOUND_SCRIPT
from ftbench.site.write import WRITING
from ftbench.submissions import load_submission
from ftbench.tasks import load_examples, load_tasks
from site_fixtures import FLAGGED, ROOT, make_site_board, site_files, write_record

GOLDEN = Path(__file__).parent / "golden" / "site"
# Not golden: copies of inputs (checked byte for byte against their sources instead).
NOT_GOLDEN = ("records/", "static/", MANIFEST)


@pytest.fixture
def site_board(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    return make_site_board(tmp_path / "board")


def build(root: Path, **overrides):
    config = load_config(root).with_overrides(**overrides)
    return build_site(config), config.site_dir


def test_golden_site(site_board):
    _, site = build(site_board)
    built = {k: v for k, v in site_files(site).items() if not k.startswith(NOT_GOLDEN)}
    if os.environ.get("FTBENCH_UPDATE_GOLDEN") == "1":
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for rel, data in built.items():
            (GOLDEN / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / rel).write_bytes(data)
    expected = site_files(GOLDEN) if GOLDEN.is_dir() else {}
    assert sorted(built) == sorted(expected), "set of files differs (FTBENCH_UPDATE_GOLDEN=1 regenerates)"
    diffs = [_diff(rel, expected[rel], built[rel]) for rel in sorted(built) if built[rel] != expected[rel]]
    assert not diffs, "\n".join(diffs)[:6000] + "\n(FTBENCH_UPDATE_GOLDEN=1 regenerates tests/golden)"


def _diff(rel: str, old: bytes, new: bytes) -> str:
    lines = difflib.unified_diff(
        old.decode().splitlines(), new.decode().splitlines(), f"golden/{rel}", f"built/{rel}", lineterm="", n=1
    )
    return "\n".join(list(lines)[:40])


def test_copies_are_exact(site_board):
    _, site = build(site_board)
    for record in (site_board / "results").glob("*/*.json"):
        copy = site / "records" / record.parent.name / record.name
        if record.parent.name == "ghost" or record.name == "legacy.json":
            assert not copy.exists()  # withdrawn submission, or a record that cannot prove itself
        else:
            assert copy.read_bytes() == record.read_bytes()
    for asset in (ROOT / "templates" / "static").iterdir():
        assert (site / "static" / asset.name).read_bytes() == asset.read_bytes()


def test_ranking_follows_the_primary_metric_and_leaves_out_stale_records(site_board):
    _, site = build(site_board)
    rows = json.loads((site / "downloads/topics/leaderboard.json").read_text())["rows"]
    # topics ranks by f1_macro; gamma-ia3's record there is stale (and best): not ranked
    assert [r["submission"] for r in rows] == ["beta-full", "alpha-lora"]
    assert rows[0]["metrics"]["f1_macro"] > rows[1]["metrics"]["f1_macro"]
    sentiment = json.loads((site / "downloads/sentiment/leaderboard.json").read_text())["rows"]
    # alpha and beta tie: same rank, the earlier submission first
    assert [(r["rank"], r["submission"]) for r in sentiment][:2] == [(1, "beta-full"), (1, "alpha-lora")]
    page = (site / "tasks/topics.html").read_text()
    assert "Gamma Ia3" not in page


def test_a_model_pages_sections_read_their_rank_as_its_results_table_does(site_board):
    """A shared rank reads ``=1 of 6`` in the results table and in the task's section alike."""
    _, site = build(site_board)
    page = (site / "models/alpha-lora.html").read_text()
    table = dict(re.findall(r'<a href="#task-(\w+)">.*?data-label="Rank">([^<]*)</td>', page, re.S))
    heads = dict(re.findall(r'<section class="result" id="task-(\w+)".*?<p class="meta">Rank ([^·]*?) ·', page, re.S))
    assert table["sentiment"] == "=1 of 6" and heads == table


def test_stale_missing_and_withdrawn_results_are_explained(site_board):
    _, site = build(site_board)
    gamma = (site / "models/gamma-ia3.html").read_text()
    assert "stale result, re-evaluation pending (adapter changed since it was evaluated)" in gamma
    assert "Not evaluated yet: topics." in (site / "models/delta-head.html").read_text()
    assert not any("ghost" in name for name in site_files(site))
    assert "ghost" not in (site / "index.html").read_text().lower()


def test_task_without_data_omits_baselines_with_a_note(site_board):
    _, site = build(site_board)
    legacy = (site / "tasks/legacy.html").read_text()
    assert "held-out data was not available" in legacy and "Majority class" not in legacy
    assert "Beta Full" not in legacy  # its record cannot be checked against labels: not ranked
    beta = (site / "models/beta-full.html").read_text()
    assert "legacy: record not shown." in beta and "held-out data of task &#39;legacy&#39; is unavailable" in beta
    assert 'id="task-legacy"' not in beta  # none of its numbers
    assert "Most frequent confusions" in (site / "models/alpha-lora.html").read_text()  # 22 labels
    assert "Majority class" in (site / "tasks/sentiment.html").read_text()


def test_downloads_are_complete_and_csv_matches_json(site_board):
    _, site = build(site_board)
    doc = json.loads((site / "downloads/sentiment/leaderboard.json").read_text())
    text = (site / "downloads/sentiment/leaderboard.json").read_text()
    # one line per row (reviewable diffs), each a compact JSON object
    lines = text.splitlines()
    assert len(lines) == len(doc["rows"]) + 2 and len(doc["rows"]) >= 2
    assert [json.loads(line.rstrip(",")) for line in lines[1:-1]] == doc["rows"]
    assert doc["higher_is_better"] is True and doc["primary_metric"] == "accuracy"
    for row in doc["rows"]:
        assert (site / row["record_path"]).is_file()
    table = list(csv.DictReader(io.StringIO((site / "downloads/sentiment/leaderboard.csv").read_text())))
    assert [r["submission"] for r in table] == [r["submission"] for r in doc["rows"]]
    assert float(table[0]["accuracy"]) == doc["rows"][0]["metrics"]["accuracy"]


# ---------------------------------------------------------------- links


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in {"href", "src"} and value is not None:
                self.urls.append(value)
            if name == "id" and value:
                self.ids.add(value)


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def check_links(site: Path) -> int:
    """Assert that every relative link of every page (but 404.html) resolves, fragments
    included; returns how many were checked."""
    pages = {p: _parse(p) for p in site.rglob("*.html") if p.name != "404.html"}
    checked = 0
    for page, links in pages.items():
        for url in links.urls:
            if urlparse(url).scheme in {"http", "https", "mailto"}:
                continue
            assert not url.startswith("/"), f"{page.name}: absolute link {url} breaks under a sub-path"
            path, fragment = urldefrag(url)
            target = (page.parent / unquote(path)).resolve() if path else page
            assert target.is_file(), f"{page.relative_to(site)}: {url} does not resolve"
            if fragment and target.suffix == ".html":
                assert unquote(fragment) in pages[target].ids, f"{page.name}: no #{fragment} in {path}"
            checked += 1
    return checked


def test_every_internal_link_resolves_relatively(site_board):
    _, site = build(site_board)
    assert check_links(site) > 100


def test_not_found_page_uses_the_base_url(site_board):
    _, site = build(site_board, site_dir=site_board / "out")
    config = load_config(site_board)
    result = CliRunner().invoke(
        main, ["--root", str(site_board), "build", "--site-dir", str(site_board / "sub"), "--base-url", "/ftbench"]
    )
    assert result.exit_code == 0, result.output
    page = (site_board / "sub/404.html").read_text()
    # links relative to the site root (right from disk), made absolute under the base URL by
    # the page's one inline script when a server shows it at any depth; the CSP allows only it
    assert 'href="static/style.css"' in page and '<script data-base="/ftbench/">' in page and config.base_url == "/"
    script = page.split('<script data-base="/ftbench/">', 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}';" in page
    # every other page is identical whatever the base URL: links are relative
    assert (site_board / "sub/index.html").read_bytes() == (site / "index.html").read_bytes()


# ---------------------------------------------------------------- reproducibility


def test_same_inputs_give_byte_identical_output_anywhere(site_board, tmp_path):
    _, first = build(site_board)
    _, second = build(site_board, site_dir=tmp_path / "second")
    moved = shutil.copytree(site_board, tmp_path / "elsewhere", ignore=shutil.ignore_patterns("site"))
    os.utime(moved / "results" / "alpha-lora" / "topics.json", (1, 1))
    _, third = build(moved)
    reference = site_files(first)
    assert site_files(second) == reference
    assert site_files(third) == reference


def test_each_page_dates_what_it_shows_unless_source_date_epoch_fixes_it(site_board, monkeypatch):
    _, site = build(site_board)
    # the home page shows every submission: the newest date among them (delta-head's)
    assert "Updated 2026-03-02." in (site / "index.html").read_text()
    # a model page, its own submission and records (beta-full: submitted 2026-01-15, records of 2026-01-02)
    assert "Updated 2026-01-15." in (site / "models/beta-full.html").read_text()
    assert "Updated 2026-02-20." in (site / "tasks/wiki.html").read_text()  # zeta-sft's, the newest there
    assert json.loads((site / "downloads/wiki/leaderboard.json").read_text())["updated"] == "2026-02-20"
    assert "Updated" not in (site / "about.html").read_text()  # shows no record
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    report, site = build(site_board)
    assert not report.skipped  # the setting is part of the stamp
    for page in ("index.html", "models/beta-full.html", "tasks/wiki.html", "about.html"):
        assert "Updated 2023-11-14." in (site / page).read_text()
    assert json.loads((site / "downloads/topics/leaderboard.json").read_text())["updated"] == "2023-11-14"


# ---------------------------------------------------------------- incremental builds


def test_unchanged_inputs_skip_the_build_and_force_rewrites_nothing(site_board):
    first, site = build(site_board)
    assert first.written > 20 and not first.skipped
    before = {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file() and p.name != MANIFEST}
    again, _ = build(site_board)
    assert again.skipped
    forced = build_site(load_config(site_board), force=True)
    assert forced.written == 0 and forced.unchanged == first.written
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_a_local_model_mirror_is_part_of_the_input_stamp(site_board, tmp_path):
    """A mirror's files are in its records' content keys: a changed, new or removed mirror can
    change which records are current, so the build must not be skipped."""
    import dataclasses

    from ftbench.site.stamp import input_stamps

    mirror = tmp_path / "mirror"
    config = dataclasses.replace(load_config(site_board), local_models={"org/model@abc": str(mirror)})
    absent = input_stamps(config)
    mirror.mkdir()
    (mirror / "model.safetensors").write_bytes(b"weights")
    present = input_stamps(config)
    (mirror / "model.safetensors").write_bytes(b"other weights")
    changed = input_stamps(config)
    assert len({absent, present, changed}) == 3 and len({absent[1], present[1], changed[1]}) == 3
    assert input_stamps(config) == changed  # and nothing else moves it
    blob = tmp_path / "blobs" / "abc123"  # a Hugging Face cache: the snapshot links into blobs
    blob.parent.mkdir()
    blob.write_bytes(b"weights")
    (mirror / "model.safetensors").unlink()
    (mirror / "model.safetensors").symlink_to(blob)
    linked = input_stamps(config)
    blob.write_bytes(b"weights, fine-tuned again")
    assert input_stamps(config) != linked  # the file a link names counts


def test_a_changed_record_rewrites_only_what_shows_it(site_board):
    _, site = build(site_board)
    before = site_files(site)
    config = load_config(site_board)
    tasks = load_tasks(config.tasks_dir)
    delta = load_submission(site_board / "submissions" / "delta-head", tasks).spec
    gold = list(load_examples(tasks["sentiment"], config.data_dir).labels)
    write_record(
        site_board, delta, tasks["sentiment"], gold, 0.75, 16, latency_ms=9.0, model_memory_mb=2000.0, **FLAGGED
    )
    report, _ = build(site_board)
    after = site_files(site)
    changed = {rel for rel in after if after[rel] != before.get(rel)}
    # delta-head (0.53 -> 0.77) overtakes zeta-sft (0.70) and gamma-ia3, whose pages show their
    # rank, and ties epsilon-prompted (0.77), which keeps its rank but links its new neighbour
    # below; delta-head's example browser and comparisons show its new predictions, and the
    # comparison of beta-full and gamma-ia3 its new Holm-adjusted p (the family changed)
    assert changed == {
        "index.html",
        "downloads/all-tasks.csv",
        "tasks/sentiment.html",
        "models/delta-head.html",
        "models/delta-head/sentiment.html",
        "models/epsilon-prompted.html",
        "models/gamma-ia3.html",
        "models/zeta-sft.html",
        "compare/sentiment/beta-full--delta-head.html",
        "compare/sentiment/beta-full--gamma-ia3.html",
        "compare/sentiment/delta-head--zeta-sft.html",
        "compare/sentiment/epsilon-prompted--delta-head.html",
        "downloads/sentiment/leaderboard.json",
        "downloads/sentiment/leaderboard.csv",
        "records/delta-head/sentiment.json",
    }
    assert report.written == len(changed)
    assert report.removed == 2  # epsilon-prompted--zeta-sft and gamma-ia3--delta-head: no longer neighbours
    assert after["records/delta-head/sentiment.json"] == (site_board / "results/delta-head/sentiment.json").read_bytes()


def clean_build(root: Path, where: Path) -> dict[str, bytes]:
    """The site a build from nothing makes of the same inputs (every page rendered)."""
    build_site(load_config(root).with_overrides(site_dir=where), force=True)
    return site_files(where)


def change_delta_record(root: Path) -> None:
    config = load_config(root)
    tasks = load_tasks(config.tasks_dir)
    delta = load_submission(root / "submissions" / "delta-head", tasks).spec
    gold = list(load_examples(tasks["sentiment"], config.data_dir).labels)
    write_record(root, delta, tasks["sentiment"], gold, 0.75, 16, latency_ms=9.0, model_memory_mb=2000.0, **FLAGGED)


def edit_card(root: Path) -> None:
    card = root / "submissions" / "gamma-ia3" / "README.md"
    card.write_text(card.read_text() + "\nOne more line of the card.\n")


def edit_page(root: Path) -> None:
    page = next((root / "pages").glob("*.md"))
    page.write_text(page.read_text() + "\nEdited.\n")


def remove_delta(root: Path) -> None:
    shutil.rmtree(root / "submissions" / "delta-head")


@pytest.mark.parametrize("change", [change_delta_record, edit_card, edit_page, remove_delta])
def test_a_rebuild_renders_only_pages_whose_inputs_changed_and_equals_a_clean_build(site_board, tmp_path, change):
    first, site = build(site_board)
    assert first.kept == 0  # nothing to keep from: every page rendered
    change(site_board)
    report, _ = build(site_board)
    assert site_files(site) == clean_build(site_board, tmp_path / "clean")
    rendered = report.pages - report.kept
    if change is edit_page:  # every page shows the navigation and shares the inputs: all rendered
        assert report.kept == 0
    elif change is edit_card:  # the card shows on its model page only
        assert rendered == 1 and report.kept == report.pages - 1
    elif change is remove_delta:  # the newest submission: only the pages that showed it, or ranks it moved
        assert 0 < rendered < report.pages and report.kept >= 3  # static pages, 404 among the kept
    else:
        assert 0 < rendered < report.pages / 2


def test_a_kept_page_is_rendered_again_when_its_file_changed_or_the_manifest_lies(site_board, tmp_path):
    _, site = build(site_board)
    page = site / "models" / "gamma-ia3.html"
    good = page.read_bytes()
    page.write_bytes(good.replace(b"Gamma", b"GAMMA"))  # a hand edit, or a checkout of another version
    other = site / "models" / "alpha-lora.html"
    kept = other.read_bytes()
    other.write_bytes(kept.replace(b"Alpha", b"ALPHA"))
    edit_card(site_board)  # gamma-ia3's card: its page is made again, from a file that changed
    report, _ = build(site_board)
    assert page.read_bytes() != good and b"One more line of the card." in page.read_bytes() and report.kept > 0
    # a rebuild after a few submissions changed looks only at the pages that can show them:
    # a hand edit elsewhere stays until a build looks at that page again (--force looks at all)
    assert other.read_bytes() != kept
    build_site(load_config(site_board), force=True)
    assert other.read_bytes() == kept
    manifest = json.loads((site / MANIFEST).read_text())
    manifest["keys"] = {path: "not a key" for path in manifest["keys"]}  # no [key, stamp]: nothing kept
    (site / MANIFEST).write_text(json.dumps(manifest))
    edit_card(site_board)
    report, _ = build(site_board)
    assert report.kept == 0 and site_files(site) == clean_build(site_board, tmp_path / "clean")


def test_a_rebuild_proves_only_the_records_that_changed_and_refuses_a_forged_one(site_board, monkeypatch):
    import ftbench.board.read as read

    audited: list[str] = []
    real = read.audit_record

    def counted(rec, *args, **kwargs):
        audited.append(rec.submission.id)
        return real(rec, *args, **kwargs)

    monkeypatch.setattr(read, "audit_record", counted)
    build_site(load_config(site_board), workers=1)
    first = len(audited)
    assert first >= 10  # every current record proved itself
    memo = load_config(site_board).cache_dir / "build" / "proofs.json"
    assert memo.is_file()
    assert "models/alpha-lora.html" in (load_config(site_board).site_dir / "tasks" / "sentiment.html").read_text()
    path = site_board / "results" / "alpha-lora" / "sentiment.json"
    data = json.loads(path.read_text())
    data["metrics"]["accuracy"] = 0.99  # forged: its predictions do not give it
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    audited.clear()
    report = build_site(load_config(site_board), workers=1)
    assert audited == ["alpha-lora"]  # the others' proofs are remembered: their bytes did not change
    assert any("alpha-lora/sentiment.json: refused" in n for n in report.notes)
    assert "models/alpha-lora.html" not in (load_config(site_board).site_dir / "tasks" / "sentiment.html").read_text()
    audited.clear()
    build_site(load_config(site_board), force=True, workers=1)
    assert len(audited) == first  # --force proves every record again
    memo.write_text(json.dumps({"shared": "another stamp", "proofs": {}}))
    edit_card(site_board)
    audited.clear()
    build_site(load_config(site_board), workers=1, delta=False)
    assert len(audited) == first  # a memo made under other inputs is not used
    # a rebuild after one folder changed takes the others' proofs from the state the last build
    # kept; a state made under other inputs is not used: the whole board is read
    import ftbench.site.build as builder

    full: list[int] = []
    whole = builder._build
    monkeypatch.setattr(builder, "_build", lambda *args, **kwargs: full.append(1) or whole(*args, **kwargs))
    edit_card(site_board)
    build_site(load_config(site_board), workers=1)
    assert full == []  # one folder changed: read alone
    state = load_config(site_board).cache_dir / "build" / "state" / "board.json"
    state.write_text(state.read_text().replace('"shared":"', '"shared":"another stamp ', 1))
    edit_card(site_board)
    build_site(load_config(site_board), workers=1)
    assert full == [1]


def test_a_rebuild_reads_only_the_records_that_changed(site_board, tmp_path, monkeypatch):
    import ftbench.board.read as read

    reads: list[str] = []
    real = read.read_record_bytes

    def counted(path, *args, **kwargs):
        reads.append(f"{path.parent.name}/{path.name}")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(read, "read_record_bytes", counted)
    config = load_config(site_board)
    build_site(config, workers=1)
    every = sorted(reads)
    assert len(every) >= 10 and len(set(every)) == len(every)  # each record read once, audit included
    cache = config.cache_dir / "build" / "records"
    assert {p.name for p in cache.iterdir()} >= {"alpha-lora.bin", "delta-head.bin"}  # one per submission
    change_delta_record(site_board)
    reads.clear()
    build_site(config, workers=1)
    assert reads == ["delta-head/sentiment.json"]  # the others come from the cache: their files unchanged
    assert site_files(config.site_dir) == clean_build(site_board, tmp_path / "clean")
    reads.clear()
    build_site(config, force=True, workers=1)
    assert sorted(reads) == every  # --force reads every record again
    for stored in cache.iterdir():  # a damaged cache is not used: every record is read again
        stored.write_bytes(stored.read_bytes()[:-10] if stored.name.startswith("a") else b"")
    edit_card(site_board)
    reads.clear()
    build_site(config, workers=1)  # one folder changed: that folder alone is read, its cache file damaged
    assert sorted(reads) == ["gamma-ia3/sentiment.json", "gamma-ia3/topics.json"]
    assert site_files(config.site_dir) == clean_build(site_board, tmp_path / "clean2")
    for stored in cache.iterdir():
        stored.write_bytes(stored.read_bytes()[:-10] if stored.name.startswith("a") else b"")
    edit_card(site_board)
    reads.clear()
    build_site(config, workers=1, delta=False)  # the whole board read: every record, no file usable
    assert sorted(reads) == every and site_files(config.site_dir) == clean_build(site_board, tmp_path / "clean3")


def test_a_rebuild_from_the_record_cache_keeps_the_ci_signatures_in_force(site_board, tmp_path, monkeypatch):
    """The signature covers the predictions, which the cache's views lack: it is checked when a
    record is read, and a record that a rebuild takes from the cache keeps that verdict."""
    from ftbench.record import read_record, sign, write_record

    monkeypatch.setenv("FTBENCH_RECORD_KEY", "ci-secret")
    paths = sorted((site_board / "results").glob("*/*.json"))
    for path in paths[::2]:  # half signed by the CI, half not
        write_record(path, sign(read_record(path), b"ci-secret"))
    config = load_config(site_board)
    build_site(config, workers=1)
    ranked = {
        r["submission"]
        for r in json.loads((config.site_dir / "downloads/sentiment/leaderboard.json").read_text())["rows"]
    }
    assert ranked  # the signed ones
    edit_card(site_board)  # a rebuild that takes every record from the cache
    report = build_site(config, workers=1)
    assert not report.skipped
    again = {
        r["submission"]
        for r in json.loads((config.site_dir / "downloads/sentiment/leaderboard.json").read_text())["rows"]
    }
    assert again == ranked and site_files(config.site_dir) == clean_build(site_board, tmp_path / "clean")


def test_which_pairs_have_a_comparison_page_is_one_rule():
    from ftbench.site.comparison import has_comparison
    from ftbench.site.context import compared_pairs

    for n in range(LEADER_PAIRS + 5):
        listed = set(compared_pairs([None] * n))
        asked = {(q, r) for q in range(-1, n + 1) for r in range(-1, n + 2) if has_comparison(q, r, n)}
        assert asked == listed, n


def test_a_rebuild_validates_only_the_submission_folders_that_changed(site_board, tmp_path, monkeypatch):
    import ftbench.board.read as read

    validated: list[str] = []
    real = read.load_all

    def counted(folders, *args, **kwargs):
        validated.extend(f.name for f in folders)
        return real(folders, *args, **kwargs)

    monkeypatch.setattr(read, "load_all", counted)
    config = load_config(site_board)
    build_site(config, workers=1)
    every = sorted(validated)
    assert "gamma-ia3" in every and "alpha-lora" in every
    edit_card(site_board)
    validated.clear()
    build_site(config, workers=1)
    assert validated == ["gamma-ia3"]  # the others' folders are as they were: their verdicts are kept
    assert site_files(config.site_dir) == clean_build(site_board, tmp_path / "clean")
    # a file replaced by a link to a copy of it, same size and time: the folder is checked again
    card = site_board / "submissions" / "alpha-lora" / "README.md"
    copy = tmp_path / "README.md"
    shutil.copy2(card, copy)
    card.unlink()
    card.symlink_to(copy)
    os.utime(card, follow_symlinks=False, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns))
    validated.clear()
    report = build_site(config, workers=1)
    assert validated == ["alpha-lora"]
    assert any("alpha-lora" in n and "symbolic links" in n for n in report.notes)
    assert not (config.site_dir / "models" / "alpha-lora.html").exists()


def test_a_rebuild_makes_only_the_changed_tasks_lines_of_the_all_tasks_download(site_board, tmp_path, monkeypatch):
    import ftbench.site.downloads as downloads

    made: list[str] = []
    real = downloads.all_tasks_rows

    def counted(task, rows, reference=""):
        made.append(task.name)
        return real(task, rows, reference)

    monkeypatch.setattr(downloads, "all_tasks_rows", counted)
    config = load_config(site_board)
    build_site(config, workers=1)
    every = sorted(made)
    kept = config.cache_dir / "build" / "all-tasks"
    assert len(every) >= 3 and sorted(p.stem for p in kept.glob("*.csv")) == every
    change_delta_record(site_board)
    made.clear()
    build_site(config, workers=1)
    assert made == ["sentiment"]  # the other tasks' lines are kept
    assert site_files(config.site_dir) == clean_build(site_board, tmp_path / "clean")
    (kept / "intents.csv").write_bytes(b"another key\nforged,line\n")  # made of other inputs: made again
    # a task no longer on the board: deleted by the next build that sees the board's tasks
    # or submissions change, or by a full build (a rebuild of the same tasks does not look)
    (kept / "gone.csv").write_bytes(b"x\n")
    edit_card(site_board)
    made.clear()
    build_site(config, workers=1)
    assert made == ["intents"]
    assert b"forged" not in (config.site_dir / "downloads" / "all-tasks.csv").read_bytes()
    made.clear()
    build_site(config, force=True, workers=1)
    assert sorted(made) == every  # --force makes every task's lines again
    assert not (kept / "gone.csv").exists()


def test_task_workers_are_given_the_tasks_by_what_they_render(site_board, monkeypatch):
    import ftbench.site.parallel as parallel
    from ftbench.site.build import RENDERED_TASK

    shares: list[dict[str, int]] = []
    real = parallel.split_evenly

    def noted(items, weights, parts):
        if items and hasattr(items[0], "primary_metric"):  # the tasks' runs, not the submissions'
            shares.append({t.name: w for t, w in zip(items, weights, strict=True)})
        return real(items, weights, parts)

    monkeypatch.setattr(parallel, "split_evenly", noted)
    config = load_config(site_board)
    build_site(config, workers=1)
    change_delta_record(site_board)
    build_site(config, workers=1, delta=False)  # the whole board's rebuild (one folder alone has no task workers)
    first, rebuild = shares
    sizes = {t: w // RENDERED_TASK for t, w in first.items()}  # every page rendered the first time
    assert all(w == sizes[t] * RENDERED_TASK for t, w in first.items())
    assert rebuild == {t: n * (RENDERED_TASK if t == "sentiment" else 1) for t, n in sizes.items()}


def remeasure(path: Path, **figures: float) -> None:
    """Rewrite a record's efficiency figures (and their ranges), as ``ftbench measure`` would."""
    record = json.loads(path.read_text())
    for name, value in figures.items():
        record["efficiency"].update({name: value, f"{name}_lo": value * 0.99, f"{name}_hi": value * 1.01})
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def pareto_row(page: Path, submission: str) -> str:
    """The ranking table's row of a submission on a task page."""
    text = page.read_text()
    body = text.index("<tbody")
    start = text.index(f'href="../models/{submission}.html"', body)
    return text[text.rindex("<tr", body, start) : text.index("</tr>", start)]


def test_a_rebuild_ranks_only_the_tasks_whose_entries_changed(site_board, tmp_path, monkeypatch):
    import ftbench.board.ranking_cache as rankings

    ranked: list[str] = []
    real = rankings.quality_ranking

    def counted(board, task):
        ranked.append(task.name)
        return real(board, task)

    monkeypatch.setattr(rankings, "quality_ranking", counted)
    config = load_config(site_board)
    build_site(config, workers=1)
    every = sorted(ranked)
    assert len(every) >= 3 and "sentiment" in every
    cache = config.cache_dir / "build" / "rankings"
    assert (cache / "sentiment.json").is_file() and list(cache.glob("sentiment.*.p_raw.npy"))
    change_delta_record(site_board)
    ranked.clear()
    build_site(config, workers=1)
    assert ranked == ["sentiment"]  # the other tasks' entries are the same: their rankings are kept
    assert site_files(config.site_dir) == clean_build(site_board, tmp_path / "clean")
    assert len(list(cache.glob("sentiment.*.npy"))) == len(rankings.ARRAYS)  # the replaced ranking's arrays are gone
    # measured again (new costs, the same predictions): no task is ranked again, its fronts are
    badge = 'title="Pareto-optimal for latency"'
    assert badge not in pareto_row(config.site_dir / "tasks/sentiment.html", "epsilon-prompted")
    remeasure(site_board / "results" / "epsilon-prompted" / "sentiment.json", latency_ms=0.01)
    ranked.clear()
    build_site(config, workers=1)
    assert ranked == [] and site_files(config.site_dir) == clean_build(site_board, tmp_path / "remeasured")
    assert badge in pareto_row(config.site_dir / "tasks/sentiment.html", "epsilon-prompted")  # the fastest now
    # the home page shows one cost, the latency of a task's top rows: a new memory figure leaves it as it was
    home = (config.site_dir / "index.html").stat().st_mtime_ns
    remeasure(site_board / "results" / "epsilon-prompted" / "sentiment.json", model_memory_mb=1.0)
    ranked.clear()
    report = build_site(config, workers=1)
    assert ranked == [] and site_files(config.site_dir) == clean_build(site_board, tmp_path / "memory")
    assert (config.site_dir / "index.html").stat().st_mtime_ns == home and report.kept > 0
    ranked.clear()
    build_site(config, force=True, workers=1)
    assert sorted(ranked) == every  # --force ranks every task again
    damaged = {stored.name.split(".")[0] for stored in cache.glob("*.npy")}
    for stored in cache.glob("*.npy"):  # damaged arrays: those tasks are ranked again, same site
        stored.write_bytes(stored.read_bytes()[:100])
    (cache / "intents.json").write_text('{"key": "not this one", "rows": []}')  # and one made of other inputs
    edit_card(site_board)
    ranked.clear()
    build_site(config, workers=1, delta=False)  # the whole board: every task's ranking looked at
    assert "intents" not in damaged and sorted(ranked) == sorted(damaged | {"intents"})
    assert site_files(config.site_dir) == clean_build(site_board, tmp_path / "clean2")


def test_a_build_drops_the_cache_files_of_what_left_the_board(site_board):
    config = load_config(site_board)
    build_site(config, workers=1)
    records, rankings = config.cache_dir / "build" / "records", config.cache_dir / "build" / "rankings"
    (records / "older-format.npz").write_bytes(b"x")
    (rankings / "gone.json").write_text("{}")
    (rankings / "gone.0123.p_raw.npy").write_bytes(b"x")
    remove_delta(site_board)
    build_site(config, workers=1)
    assert not (records / "delta-head.bin").exists() and (records / "alpha-lora.bin").is_file()
    assert not (records / "older-format.npz").exists()
    assert not list(rankings.glob("gone.*")) and (rankings / "sentiment.json").is_file()


def test_the_boards_entries_carry_calibration_figures_and_the_records_their_bins(site_board):
    from ftbench.board.read import load_board

    files = load_board(load_config(site_board))
    loaded = {(r.record.submission.id, r.record.task.name): r for r in files.shard.records}
    seen = 0
    for task, row in files.board.summary.entries.items():
        for e in row:
            if e.calibration is None:
                continue
            full = loaded[(e.submission, task)].calibration
            assert e.calibration.bins == () and full is not None and full.bins  # the model page draws them
            assert (e.calibration.ece, e.calibration.brier, e.calibration.log_loss, e.calibration.examples) == (
                full.ece,
                full.brier,
                full.log_loss,
                full.examples,
            )
            seen += 1
    assert seen


def test_a_stored_ranking_is_the_ranking(site_board, tmp_path):
    import numpy as np

    from ftbench.board.ranking_cache import RankingCache, cached_task_tables, ranking_key, read_ranking
    from ftbench.board.read import load_board
    from ftbench.board.snapshot import task_tables
    from ftbench.leaderboard import overall_ranking

    board = load_board(load_config(site_board)).board
    fresh = task_tables(board)
    cache = RankingCache(tmp_path / "rankings")
    assert cached_task_tables(board, "stamp", cache).keys() == fresh.keys()  # ranked, then stored
    stored = cached_task_tables(board, "stamp", cache)
    for name, rows in fresh.items():
        again = stored[name]
        assert [(r.rank, r.rank_low, r.rank_high, r.wins, r.pareto, r.baseline, r.sharing, r.index) for r in again] == [
            (r.rank, r.rank_low, r.rank_high, r.wins, r.pareto, r.baseline, r.sharing, r.index) for r in rows
        ]
        assert all(a.entry is b.entry for a, b in zip(again, rows, strict=True))  # the board's own entries
        stats, kept = rows[0].comparisons if rows else None, again[0].comparisons if again else None
        assert (stats is None) == (kept is None)
        if stats is not None and kept is not None:
            assert kept.method == stats.method and kept.higher_is_better == stats.higher_is_better
            for field in ("p_raw", "p_holm", "better", "samples"):
                assert np.array_equal(getattr(kept, field), getattr(stats, field))
            assert kept.win_halves is not None and kept.win_halves.dtype == np.int32  # kept, not made again
            assert np.array_equal(kept.resample_win_rates(), stats.resample_win_rates())  # bit for bit
    assert any(rows and rows[0].comparisons is not None for rows in stored.values())
    assert overall_ranking(stored) == overall_ranking(fresh)
    entries = board.summary.entries["sentiment"]
    assert read_ranking(cache, "sentiment", "another key", entries) is None  # made of other inputs
    key = ranking_key("stamp", "sentiment", "accuracy", entries, "classification")
    assert read_ranking(cache, "sentiment", key, entries) is not None
    assert read_ranking(RankingCache(cache.folder, reuse=False), "sentiment", key, entries) is None  # --force
    assert read_ranking(cache, "sentiment", key, entries[:-1]) is None  # fewer entries than it names


def test_the_record_cache_keeps_what_the_board_took_from_a_record(tmp_path):
    import numpy as np

    from ftbench.board.record_cache import CachedRecord, read_entries, write_entries
    from ftbench.calibration import calibration
    from ftbench.compare import Outcome
    from ftbench.record import read_record, view_of

    path = next((ROOT / "results").glob("minilm-lora-r8/sst2.json"))
    record = read_record(path)
    pred = np.array(record.predictions.pred, dtype=np.int16)
    prob = np.array(record.predictions.prob, dtype=np.float32)
    docs = {f: np.arange(3, dtype=np.float64) + i for i, f in enumerate(("loglik", "tokens", "words", "bytes"))}
    entries = {
        "sst2.json": CachedRecord(
            "1:2", "ab" * 32, view_of(record), {}, Outcome(pred=pred, prob=prob), calibration(prob, pred == 1)
        ),
        "wiki.json": CachedRecord("3:4", "cd" * 32, view_of(record), {"documents": 3}, Outcome(documents=docs), None),
    }
    where = tmp_path / "x.bin"
    write_entries(where, "stamp", entries)
    back = read_entries(where, "stamp")
    assert back.keys() == entries.keys() and back["sst2.json"].view == entries["sst2.json"].view
    assert back["sst2.json"].calibration == entries["sst2.json"].calibration
    assert np.array_equal(back["sst2.json"].outcome.pred, pred) and back["sst2.json"].outcome.prob.dtype == np.float32
    assert all(np.array_equal(back["wiki.json"].outcome.documents[f], docs[f]) for f in docs)
    assert back["wiki.json"].scoring == {"documents": 3} and back["wiki.json"].calibration is None
    assert read_entries(where, "another stamp") == {}  # made under other inputs: not used
    assert read_entries(tmp_path / "missing.bin", "stamp") == {}


def test_a_record_cache_file_holds_numbers_only_and_a_forged_one_is_refused():
    import numpy as np

    from ftbench.board.record_cache import pack, unpack

    data = pack({"shared": "stamp"}, {"pred": np.arange(3, dtype=np.int16)})
    meta, arrays = unpack(data)
    assert meta == {"shared": "stamp"} and arrays["pred"].tolist() == [0, 1, 2]
    assert not arrays["pred"].flags.writeable  # a view of the file's bytes, shared by its records
    forged = [
        data.replace(b'"<i2"', b'"|O8"'),  # objects: never read
        data.replace(b'"<i2"', b'"<f8"'),  # another type than the field has
        data.replace(b'"pred"', b'"evil"'),  # an array the cache does not know
        data[:-4],  # an array past the end of the file
        b"PK\x03\x04" + data,  # not a cache file
    ]
    for bad in forged:
        with pytest.raises(ValueError):
            unpack(bad)


@pytest.mark.parametrize(
    "garbage",
    [b"[" * 100000 + b"]" * 100000, b"\x00\xff not json", b'{"stamp": null, "files": {"a": 1}, "keys": [1]}'],
    ids=["nested", "binary", "wrong-types"],
)
def test_a_hostile_manifest_or_proof_memo_is_ignored_and_the_site_rebuilt(site_board, tmp_path, garbage):
    _, site = build(site_board)
    memo = load_config(site_board).cache_dir / "build" / "proofs.json"
    (site / MANIFEST).write_bytes(garbage)
    memo.write_bytes(garbage)
    report, _ = build(site_board)
    assert not report.skipped and report.kept == 0  # nothing taken from either file
    assert site_files(site) == clean_build(site_board, tmp_path / "clean")
    assert json.loads(memo.read_text())["proofs"]  # written anew


def test_removed_submission_and_deleted_outputs(site_board):
    _, site = build(site_board)
    (site / "about.html").unlink()
    report, _ = build(site_board)
    assert not report.skipped and (site / "about.html").is_file()  # a missing output rebuilds
    shutil.rmtree(site_board / "submissions" / "delta-head")
    report, _ = build(site_board)
    # its page, its record copy, its example browser and its two comparisons (with the
    # leader, and with gamma-ia3 above it)
    assert report.removed == 5
    assert not list((site / "compare").rglob("*delta-head*"))
    assert not (site / "models/delta-head.html").exists() and not (site / "records/delta-head").exists()
    assert (site / "models/alpha-lora.html").is_file()


# ---------------------------------------------------------------- command line and imports


def test_build_command_help_and_summary(site_board):
    runner = CliRunner()
    assert "Example:" in runner.invoke(main, ["build", "--help"]).output
    result = runner.invoke(main, ["--root", str(site_board), "build"])
    assert result.exit_code == 0
    assert "36 pages, 12 records" in result.stdout  # 16, 9 example browsers and 11 comparisons
    assert "no submission 'ghost' for these records" in result.stderr
    assert "site is up to date" in runner.invoke(main, ["--root", str(site_board), "build"]).stdout
    forced = runner.invoke(main, ["--root", str(site_board), "build", "--force", "--workers", "2"])
    assert forced.exit_code == 0 and "0 file(s) written" in forced.stdout  # same bytes either way
    refused = runner.invoke(main, ["--root", str(site_board), "build", "--workers", "0"])
    assert refused.exit_code == 2 and "--workers" in refused.output


def test_build_does_not_import_torch(site_board):
    code = (
        "import sys; from ftbench.cli import main\n"
        "try:\n    main(['--root', sys.argv[1], 'build'])\nexcept SystemExit as e:\n    assert not e.code\n"
        "heavy = [m for m in ('torch', 'transformers', 'peft') if m in sys.modules]\n"
        "assert not heavy, heavy\nprint('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code, str(site_board)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (site_board / "site" / "index.html").is_file()


# ---------------------------------------------------------------- hostile input

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">entity</a>',
    "[md link](javascript:alert(1))",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>',
    "![pixel](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "<svg onload=alert(1)><circle r=5></circle></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text>t</text></a></svg>',
    '<p style="background:url(javascript:alert(1))">styled</p>',
    "<style>body{display:none}</style>",
    '<iframe src="https://evil.example"></iframe>',
    '<object data="x.swf"></object><embed src="x.swf">',
    '<form action="https://evil.example"><input name=q></form>',
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    '<base href="https://evil.example/">',
    '<link rel=stylesheet href="https://evil.example/x.css">',
    '"><script>alert(1)</script>',
    "'><svg/onload=alert(1)>",
    "<details open ontoggle=alert(1)>x</details>",
    '<div onmouseover="alert(1)">hover</div>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "</title><script>alert(1)</script>",
    "<!--<script>alert(1)//-->",
    '=HYPERLINK("https://evil.example","x")',
]
ALLOWED_META = {"charset", "viewport", "Content-Security-Policy", "color-scheme", "generator"}
FORBIDDEN_TAGS = {
    "iframe",
    "object",
    "embed",
    "img",
    "form",
    "input",
    "base",
    "style",
    "math",
    "template",
    "frame",
    "frameset",
    "audio",
    "video",
    "source",
    "textarea",
    "button",
}


SCRIPTS = re.compile(r"(/|(\.\./)*)(static/(table|browse)\.js|examples/[A-Za-z0-9_%.-]+\.js)")
"""The only scripts a page may load: the site's own, and a task's shared example data."""


class _Audit(HTMLParser):
    """Collects every way a page could run contributor code or load something foreign. The
    one inline ``<script>`` allowed is a JSON data block (never run), and it must parse."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.scripts = 0
        self.in_script = False
        self.data_blocks: list[str] = []
        self.in_data = False
        self.in_not_found = False

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        for name, value in attrs:
            if name.startswith("on") or name in {"style", "srcdoc", "formaction"}:
                self.problems.append(f"<{tag} {name}=...>")
            if name in {"href", "src", "xlink:href", "action", "data"}:
                url = "".join(ch for ch in (value or "") if ch.isprintable() and not ch.isspace())
                if url.lower().startswith(("javascript:", "data:", "vbscript:")):
                    self.problems.append(f"<{tag} {name}={value!r}>")
        # the site's own controls (search box, column chooser) are the only inputs: no name, no form
        own_input = tag == "input" and values.get("type") in {"search", "checkbox"} and "name" not in values
        if tag in FORBIDDEN_TAGS and not own_input:
            self.problems.append(f"<{tag}>")
        if tag == "script" and values.get("type") == "application/json" and "src" not in values:
            self.in_data = True
            self.data_blocks.append("")
        elif tag == "script" and "data-base" in values and "src" not in values:
            self.in_not_found = True  # the 404 page's own script: checked to be exactly that
        elif tag == "script":
            self.scripts += 1
            self.in_script = True
            if not SCRIPTS.fullmatch(values.get("src") or ""):
                self.problems.append(f"<script src={values.get('src')!r}>")
        if tag == "svg" and not {"chart", "cibar"} & set((values.get("class") or "").split()):
            self.problems.append("<svg> not drawn by ftbench")
        if tag == "link" and (values.get("rel"), (values.get("href") or "").rsplit("/", 1)[-1]) not in {
            ("stylesheet", "style.css"),
            ("stylesheet", "charts.css"),
            ("icon", "favicon.svg"),
        }:
            self.problems.append(f"<link {values}>")
        if tag == "meta" and _meta_kind(values) not in ALLOWED_META:
            self.problems.append(f"<meta {values}>")

    def handle_data(self, data):
        if self.in_not_found:
            if data != NOT_FOUND_SCRIPT:
                self.problems.append("an inline script other than the 404 page's")
        elif self.in_data:
            self.data_blocks[-1] += data
        elif self.in_script and data.strip():
            self.problems.append("script content")

    def handle_endtag(self, tag):
        if tag == "script" and self.in_not_found:
            self.in_not_found = False
        elif tag == "script" and self.in_data:
            self.in_data = False
            try:
                json.loads(self.data_blocks[-1])
            except ValueError:
                self.problems.append("a data block that is not JSON")
        elif tag == "script":
            self.in_script = False


def _meta_kind(values: dict) -> str | None:
    if "charset" in values:
        return "charset"
    return values.get("name") or values.get("http-equiv")


def _hostile_board(root: Path) -> Path:
    from ftbench.testing import submission_spec, synthetic_provenance, write_submission, write_task
    from site_fixtures import write_record

    make_site_board(root)
    labels = [f"{p[:30]} #{i}" for i, p in enumerate(HOSTILE[:6])]
    task = write_task(
        root,
        "hostile",
        labels,
        [i % len(labels) for i in range(36)],
        title=HOSTILE[0],
        description=HOSTILE[1],
        citation=HOSTILE[2],
    )
    gold = [i % len(labels) for i in range(36)]
    for i, payload in enumerate(HOSTILE):
        spec = submission_spec(
            f"hostile-{i:02d}",
            ["hostile"],
            name=payload[:120],
            description=payload,
            license=payload,
            submitter={"name": payload, "github": "ada"},
            fine_tuning={
                "method": "lora",
                "hyperparameters": {payload[:40]: payload},
                "script": payload,
                "training_data": [{"dataset": payload}],
            },
        )
        sub = write_submission(root, spec, card=f"# Card {i}\n\n{payload}\n\n[click](javascript:alert({i}))\n")
        path = write_record(root, sub, task, gold, 0.5 + i / 100, i)
        record = json.loads(path.read_text())
        prov = synthetic_provenance(cpu=payload).model_dump(mode="json")
        prov.update(command=payload, packages={"torch": payload}, model={"notes": [payload]})
        # a prompt block is shown as the record holds it: every string of it is contributor text
        prompt = {"template": payload, "instruction": payload, "choices": [payload], "continuations": [payload]}
        prompt.update(example=payload, fewshot_seed=payload, prefix_sha256=payload)
        prompt["demonstrations"] = [{"idx": payload, "label": payload}, {"idx": 0, "label": 0}]
        record.update(provenance=prov, prompt=prompt)
        # the efficiency details a page shows are whatever the record holds, too
        eff = record["efficiency"]
        eff.update(hardware_profile=payload, memory_kind=payload, validity={"flags": [payload, "cpu-steal"]})
        eff["unmerged"] = {"latency_ms": 3.0, "validity": {"flags": [payload]}, "load_time_s": payload}
        eff["latency"] = {**eff["latency"], "rounds": payload, "tokens": payload}
        path.write_text(json.dumps(record, sort_keys=True, indent=1))
    # a record file whose name (and task) is markup: shown as "not ranked" on its model page
    odd = HOSTILE[1]
    record["task"]["name"] = odd
    (path.parent / f"{odd}.json").write_text(json.dumps(record, sort_keys=True, indent=1))
    return root


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory) -> Path:
    config = load_config(_hostile_board(tmp_path_factory.mktemp("hostile") / "board"))
    build_site(config)
    return config.site_dir


@pytest.mark.parametrize(
    "html",
    [
        '<a href=" JAVASCRIPT:x">a</a>',
        '<a href="&#100;ata:text/html,x">a</a>',
        "<p onclick=x>p</p>",
        '<p style="color:red">p</p>',
        "<script>x()</script>",
        '<script type="application/json">{"a": 1}</script><script>alert(1)</script>',
        '<script type="application/json">alert(1)</script>',
        '<script src="https://evil.example/static/table.js"></script>',
        '<script src="../examples/../x.js"></script>',
        "<svg><circle/></svg>",
        "<iframe></iframe>",
        '<meta http-equiv="refresh" content="0">',
        '<link rel="preload" href="x">',
    ],
)
def test_the_audit_catches_what_it_looks_for(html):
    audit = _Audit()
    audit.feed(html)
    assert audit.problems


def test_hostile_input_never_becomes_markup(hostile_site):
    pages = sorted(hostile_site.rglob("*.html"))
    kinds = {kind: [p for p in pages if p.relative_to(hostile_site).parts[0] == kind] for kind in ("tasks", "compare")}
    browsers = [p for p in pages if len(p.relative_to(hostile_site).parts) == 3 and p.parts[-3] == "models"]
    assert len(kinds["tasks"]) == 6 and len(list((hostile_site / "models").glob("*.html"))) == len(HOSTILE) + 6
    assert len(browsers) == 9 + len(HOSTILE)  # the board's 9 records with predictions, one per hostile entry
    # hostile: its adjacent pairs and the leader's with the next LEADER_PAIRS rows
    assert len(kinds["compare"]) == 11 + (len(HOSTILE) - 1) + min(LEADER_PAIRS, len(HOSTILE) - 1) - 1
    for page in pages:
        audit = _Audit()
        audit.feed(page.read_text(encoding="utf-8"))
        assert audit.problems == [], f"{page.relative_to(hostile_site)}: {audit.problems}"
        # a browser or comparison loads its data and the script that reads it, no other page does
        assert len(audit.data_blocks) == (page in browsers) or page in kinds["compare"]
        assert audit.scripts == 1 + 2 * len(audit.data_blocks) and len(audit.data_blocks) <= 1


def test_hostile_labels_and_texts_stay_data(hostile_site):
    from markupsafe import escape

    data = (hostile_site / "examples" / "hostile.js").read_text()
    assert "<" not in data and ">" not in data and "&" not in data  # nothing a parser could take for markup
    page = (hostile_site / "models" / "hostile-00" / "hostile.html").read_text()
    assert str(escape(HOSTILE[0][:30])) in page and HOSTILE[0] not in page


@pytest.mark.parametrize("index", range(len(HOSTILE)))
def test_hostile_names_are_shown_as_text(hostile_site, index):
    from markupsafe import escape

    payload = HOSTILE[index]
    page = (hostile_site / f"models/hostile-{index:02d}.html").read_text()
    assert f"<h1>{escape(payload)}</h1>" in page
    assert f"<title>{escape(payload)} · Test board</title>" in page
    rows = json.loads((hostile_site / "downloads/hostile/leaderboard.json").read_text())["rows"]
    assert payload in {r["name"] for r in rows}


def test_hostile_file_names_are_escaped_and_linked(hostile_site):
    from markupsafe import escape

    page = (hostile_site / f"models/hostile-{len(HOSTILE) - 1:02d}.html").read_text()
    assert f'<h2 id="task-{escape(HOSTILE[1])}-h">{escape(HOSTILE[1])}</h2>' in page
    assert "no longer part of this submission" in page
    assert check_links(hostile_site) > 100


def test_hostile_names_cannot_inject_spreadsheet_formulas(hostile_site):
    table = list(csv.DictReader(io.StringIO((hostile_site / "downloads/hostile/leaderboard.csv").read_text())))
    names = {r["name"] for r in table}
    assert "'" + HOSTILE[-1] in names and HOSTILE[-1] not in names


# ---------------------------------------------------------------- parallel builds


def _read_square(shard: list[int]) -> tuple:
    return [x * x for x in shard], (sum(shard), os.getpid())


def _add(state: list[int], message: int) -> list[int]:
    return [x + message for x in state]


def _fail(state: list[int], message: int) -> None:
    raise ValueError(f"shard {state} refused {message}")


@pytest.mark.parametrize("parallel", [True, False])
def test_shards_keep_their_state_between_steps(parallel):
    from ftbench.site.parallel import Shards, can_fork

    with Shards(_read_square, [[1, 2], [3], [4, 5, 6]], parallel=parallel) as pool:
        summaries = pool.summaries()
        assert [total for total, _ in summaries] == [3, 3, 15]
        assert pool.run(_add, 100) == [[101, 104], [109], [116, 125, 136]]
    pids = {pid for _, pid in summaries}
    if parallel and can_fork():
        assert os.getpid() not in pids and len(pids) == 3  # each shard really ran in its own worker
    else:
        assert pids == {os.getpid()}


def test_a_failing_worker_fails_the_build_with_its_error():
    from ftbench.site.parallel import Shards

    with pytest.raises(ValueError, match="refused 7"), Shards(_read_square, [[1], [2]]) as pool:
        pool.summaries()
        pool.run(_fail, 7)


def test_shards_are_balanced_by_weight_and_keep_order():
    from ftbench.site.parallel import split_evenly

    items = list(range(10))
    parts = split_evenly(items, [1] * 9 + [9], 2)
    assert parts == [items[:9], [9]]
    assert [x for part in split_evenly(items, [1] * 10, 3) for x in part] == items
    assert len(split_evenly(items, [1] * 10, 3)) == 3 and split_evenly([], [], 4) == []


def test_parallel_build_gives_the_same_site(site_board, tmp_path, monkeypatch):
    from ftbench.site import build as site_build

    _, serial = build(site_board)
    monkeypatch.setattr(site_build, "MIN_RECORDS_PER_WORKER", 1)
    monkeypatch.setattr(site_build, "MIN_PAGES_PER_WORKER", 1)  # comparison pages in two workers too
    config = load_config(site_board).with_overrides(site_dir=tmp_path / "parallel")
    report = build_site(config, workers=2)
    assert report.pages == 36 and report.records == 12
    assert site_files(config.site_dir) == site_files(serial)


def test_record_copies_are_real_copies_readable_by_everyone(tmp_path):
    import stat

    from ftbench.site import write as site

    source = tmp_path / "results" / "a.json"
    source.parent.mkdir()
    source.write_text("v1")
    source.chmod(0o600)
    target = tmp_path / "site" / "records" / "a.json"
    assert site.copy_if_changed(source, target) is True and target.read_text() == "v1"
    assert not target.samefile(source) and stat.S_IMODE(target.stat().st_mode) == 0o644
    assert site.copy_if_changed(source, target) is False  # same size and time: nothing to do
    target.write_text("edited on the site")  # an edit of the copy never reaches the record
    assert source.read_text() == "v1"
    replacement = source.with_suffix(".new")
    replacement.write_text("v2, longer")
    replacement.replace(source)
    assert site.copy_if_changed(source, target) is True and target.read_text() == "v2, longer"
    linked = tmp_path / "site" / "records" / "b.json"
    os.link(source, linked)  # what an older build left: replaced by a copy
    assert site.copy_if_changed(source, linked) is True and not linked.samefile(source)
    assert not list(target.parent.glob(".*.tmp"))


def test_a_killed_build_leaves_nothing_that_is_published(site_board):
    _, site = build(site_board)
    leftover = site / "tasks" / ".sentiment.html.999999999.abc123.tmp"  # its writer (pid) is gone
    leftover.write_text("half a page")
    (site / WRITING).write_bytes(b"")  # a build killed while it wrote leaves its mark
    report, _ = build(site_board)  # nothing changed: skipped, and the leftover is gone anyway
    assert report.skipped and not leftover.exists() and not (site / WRITING).exists()


def test_workers_stop_when_the_parent_is_killed(tmp_path):
    import signal
    import time

    script = (
        "import os, time\n"
        "from ftbench.site.parallel import Shards\n"
        "def read(shard):\n"
        "    return None, os.getpid()\n"
        "with Shards(read, [[1], [2]]) as pool:\n"
        "    print(*pool.summaries(), flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    pids = [int(p) for p in proc.stdout.readline().split()]
    if len(pids) != 2 or proc.pid in pids:
        proc.kill()
        pytest.skip("no forked workers on this platform")
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    def alive(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False
        return "\nState:\tZ" not in state  # a zombie has exited

    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in pids), "workers outlived their parent"


def test_a_failed_build_writes_nothing(site_board, monkeypatch):
    from ftbench.site import build as site_build
    from ftbench.site import model_page

    _, out = build(site_board)
    before = site_files(out)
    # a change that alters every page, then a model page that cannot be rendered
    (site_board / "pages" / "about.md").write_text("# About\n\nChanged.\n")

    def broken(*args, **kwargs):
        raise ValueError("model page exploded")

    monkeypatch.setattr(model_page, "model_context", broken)
    monkeypatch.setattr(site_build, "MIN_RECORDS_PER_WORKER", 1)
    monkeypatch.setattr(site_build, "MIN_PAGES_PER_WORKER", 1)  # comparison pages in two workers too
    for workers in (1, 2):
        with pytest.raises(ValueError, match="exploded"):
            build_site(load_config(site_board), workers=workers)
        assert site_files(out) == before  # the previous site, untouched
        assert not list(out.rglob("*.tmp"))


def test_confidence_intervals_are_shown_where_records_have_them(site_board):
    sentiment = site_board / "results" / "alpha-lora" / "sentiment.json"
    low, high = json.loads(sentiment.read_text())["intervals"]["bounds"]["accuracy"]
    # an older record without intervals is still current, and shows none
    older = site_board / "results" / "beta-full" / "sentiment.json"
    record = json.loads(older.read_text())
    record["intervals"] = None
    older.write_text(json.dumps(record, sort_keys=True, indent=1, ensure_ascii=False) + "\n")
    _, site = build(site_board)
    shown = f"{100 * low:.1f}–{100 * high:.1f}"
    task = (site / "tasks" / "sentiment.html").read_text()
    alpha_row = task[task.index('href="../models/alpha-lora.html"') :].split("</tr>")[0]
    beta_row = task[task.index('href="../models/beta-full.html"') :].split("</tr>")[0]
    assert f'<small class="ci">{shown}</small>' in alpha_row and 'class="ci"' not in beta_row
    model = (site / "models" / "alpha-lora.html").read_text()
    assert f'<td class="num ci">{shown}</td>' in model
    rows = {r["submission"]: r for r in json.loads((site / "downloads/sentiment/leaderboard.json").read_text())["rows"]}
    assert rows["alpha-lora"]["intervals"]["accuracy"] == [low, high] and rows["beta-full"]["intervals"] == {}
    table = {
        r["submission"]: r
        for r in csv.DictReader(io.StringIO((site / "downloads/sentiment/leaderboard.csv").read_text()))
    }
    assert float(table["alpha-lora"]["accuracy_ci95_low"]) == low and table["beta-full"]["accuracy_ci95_high"] == ""


def test_entries_not_better_than_a_trivial_baseline_are_marked(site_board):
    _, site = build(site_board)
    page = (site / "tasks" / "sentiment.html").read_text()
    rows = {
        sub: page[page.index(f'href="../models/{sub}.html"') :].split("</tr>")[0]
        for sub in ("alpha-lora", "gamma-ia3", "delta-head")
    }
    # majority class scores 66.67 on this task: 60% and 50% accuracy are no better
    assert "below baseline" not in rows["alpha-lora"]
    assert "below baseline" in rows["gamma-ia3"] and "below baseline" in rows["delta-head"]


# ---------------------------------------------------------------- language models


def _row_of(page: str, sub: str) -> str:
    return page[page.index(f'href="../models/{sub}.html"') :].split("</tr>")[0]


def test_a_perplexity_table_ranks_lower_first_without_baselines(site_board):
    _, site = build(site_board)
    doc = json.loads((site / "downloads/wiki/leaderboard.json").read_text())
    assert doc["type"] == "perplexity" and doc["higher_is_better"] is False
    rows = doc["rows"]
    assert [r["submission"] for r in rows] == ["zeta-sft", "epsilon-prompted"]
    assert rows[0]["metrics"]["bits_per_byte"] < rows[1]["metrics"]["bits_per_byte"]
    assert [r["rank"] for r in rows] == [1, 1]  # 5 documents cannot tell them apart: a shared rank
    page = (site / "tasks/wiki.html").read_text()
    assert page.index('href="../models/zeta-sft.html"') < page.index('href="../models/epsilon-prompted.html"')
    assert "(lower is better) on the test split (5 documents)" in page
    for absent in ("Reference baselines", "Majority class", "Label distribution", "below baseline", "labels</dd>"):
        assert absent not in page, absent
    assert page.count('<div class="scatter" id="chart-') == 2 and 'id="chart-prefill_tokens_per_s"' in page
    assert "Bits per byte (lower is better)" in page  # the chart's y axis, not in percent
    assert "sliding windows of 64 tokens, stride 32" in page
    # token, word and byte perplexity beside it, and a language model's costs
    head = page[page.index("<thead>") : page.index("</thead>")]
    for heading in ("Token perplexity", "Word perplexity", "Byte perplexity", "Prefill (tok/s)", "Decode (tok/s)"):
        assert heading in head, heading
    assert "Latency (batch 1" not in head


def test_perplexity_is_never_shown_as_a_percentage(site_board):
    _, site = build(site_board)
    record = json.loads((site_board / "results/epsilon-prompted/wiki.json").read_text())
    bpb, ppl = record["metrics"]["bits_per_byte"], record["metrics"]["token_perplexity"]
    low, high = record["intervals"]["bounds"]["bits_per_byte"]
    task = (site / "tasks/wiki.html").read_text()
    cell = _row_of(task, "epsilon-prompted")
    shown = value_at_precision("bits_per_byte", bpb, (low, high))  # rounded to what its interval supports
    assert f'>{shown} <small class="ci">{low:.3f}–{high:.3f}</small>' in cell and "%" not in shown
    assert f">{ppl:.2f}</td>" in cell and f"{100 * bpb:.2f}" not in task
    assert "Quality in percent" not in task
    model = (site / "models/epsilon-prompted.html").read_text()
    wiki = model[model.index('id="task-wiki"') :]
    assert f'<td class="num">{bpb:.4f}</td><td class="num ci">{low:.3f}–{high:.3f}</td>' in wiki
    assert f"{bpb:.4f}%" not in model and f"{100 * bpb:.2f}" not in model
    # the page's summary mixes a percentage and bits per byte: each value carries its own unit
    assert '<th scope="col" class="num">Value</th>' in model and f'<td class="num">{bpb:.4f}</td>' in model
    sentiment = json.loads((site_board / "results/epsilon-prompted/sentiment.json").read_text())
    assert f'<td class="num">{100 * sentiment["metrics"]["accuracy"]:.2f}%</td>' in model


def test_every_entry_has_a_family_column_and_filter(site_board):
    _, site = build(site_board)
    page = (site / "tasks/sentiment.html").read_text()
    assert (
        '<select data-filter="family"><option value="">all</option><option>encoder fine-tune</option>'
        "<option>prompted LM</option><option>tuned LM</option></select>"
    ) in page
    expected = {"alpha-lora": "encoder fine-tune", "epsilon-prompted": "prompted LM", "zeta-sft": "tuned LM"}
    for sub, family in expected.items():
        start = page.rindex("<tr ", 0, page.index(f'href="../models/{sub}.html"'))
        assert page[start:].startswith(f'<tr data-family="{family}"'), sub
        assert f'<td class="family" data-opt="family" data-label="Family">{family}</td>' in _row_of(page, sub)
    home = (site / "index.html").read_text()
    assert '<div class="filters" data-table="overall-table" hidden>' in home
    assert '<tr data-family="prompted LM">' in home and '<td class="family" data-label="Family">tuned LM</td>' in home
    rows = {
        r["submission"]: r["family"]
        for r in json.loads((site / "downloads/sentiment/leaderboard.json").read_text())["rows"]
    }
    assert {k: rows[k] for k in expected} == expected
    assert "Family</dt><dd>prompted LM</dd>" in (site / "models/epsilon-prompted.html").read_text()


def test_a_prompted_records_page_shows_its_prompt(site_board):
    from markupsafe import escape

    _, site = build(site_board)
    record = json.loads((site_board / "results/epsilon-prompted/sentiment.json").read_text())
    prompt = record["prompt"]
    page = (site / "models/epsilon-prompted.html").read_text()
    section = page[page.index('id="task-sentiment"') : page.index('id="task-wiki"')]
    assert f'<pre class="prompt-text"><code>{escape(prompt["template"])}</code></pre>' in section
    assert "negative → &#34;bad&#34;, positive → &#34;good&#34;" in section
    assert "<dd>off: the label word follows the prompt text</dd>" in section
    assert "2 (train examples drawn with seed 7)" in section
    chips = "".join(
        f'<span class="chip">#{d["idx"]} {["negative", "positive"][d["label"]]}</span>'
        for d in prompt["demonstrations"]
    )
    assert len(prompt["demonstrations"]) == 2 and chips in section
    assert f'<pre class="prompt-text"><code>{escape(prompt["example"])}</code></pre>' in section
    assert (
        f'Accuracy (length-normalised)</th><td class="num">{100 * record["metrics"]["accuracy_norm"]:.2f}%' in section
    )
    assert "<h3>Per class</h3>" in section and "<h3>Confusion matrix</h3>" in section
    # a chat template's markup is shown as text
    zeta = (site / "models/zeta-sft.html").read_text()
    assert "<code>&lt;|im_start|&gt;user\nReview: example 0" in zeta and "<|im_start|>" not in zeta
    assert "on: the prompt is the user&#39;s turn" in zeta and "none, zero-shot (seed 1234)" in zeta


def test_a_perplexity_records_page_shows_its_windows_and_serving_figures(site_board):
    _, site = build(site_board)
    record = json.loads((site_board / "results/zeta-sft/wiki.json").read_text())
    docs, eff = record["documents"], record["efficiency"]
    page = (site / "models/zeta-sft.html").read_text()
    section = page[page.index('id="task-wiki"') :]
    for label, text in [
        ("Documents", "5"),
        ("Tokens predicted", f"{sum(docs['tokens']):,}"),
        ("Window (max_length)", "64 tokens"),
        ("Stride", "32 tokens (context_len 33)"),
        ("Prefill", f"{eff['prefill_tokens_per_s']:,.0f} tok/s"),
        ("Peak memory", f"{eff['peak_memory_mb']:,.0f} MiB (process RSS)"),
    ]:
        assert f'<tr><th scope="row">{label}</th><td>{text}</td></tr>' in section, label
    assert f"{eff['ttft_ms_p50']:.0f} ms median, {eff['ttft_ms_p95']:,.0f} ms 95th percentile" in section
    # a safetensors base: its weights, no conversion; a GGUF base: the file against its tensors
    assert "Weights</th><td>1.3 GiB</td>" in section and "Conversion time" not in page
    epsilon = (site / "models/epsilon-prompted.html").read_text()
    assert "Checkpoint as published</th><td>96.2 MiB</td>" in epsilon
    assert "Weights as evaluated</th><td>513.1 MiB (5.3× the checkpoint)</td>" in epsilon
    conversion = json.loads((site_board / "results/epsilon-prompted/wiki.json").read_text())["efficiency"]
    assert f"Conversion time</th><td>{conversion['conversion_time_s']:.3g} s</td>" in epsilon
    assert "5 documents · measured on" in section and "<h3>Per class</h3>" not in section
    # the content key's batch size, not the one-document-at-a-time figure
    assert "ftbench evaluate submissions/zeta-sft --task wiki --batch-size 32" in section
    assert eff["batch_size"] == 1


def test_the_fixtures_language_model_records_prove_themselves(site_board):
    from ftbench.audit import audit_record
    from ftbench.record import read_record

    config = load_config(site_board)
    tasks = load_tasks(config.tasks_dir)
    for sub, task in [("epsilon-prompted", "sentiment"), ("zeta-sft", "wiki")]:
        record = read_record(site_board / "results" / sub / f"{task}.json")
        gold = load_examples(tasks[task], config.data_dir)
        assert audit_record(record, tasks[task], gold, task, intervals=True) == []
        forged = record.model_copy(update={"metrics": {**record.metrics, tasks[task].primary_metric: 0.5}})
        assert audit_record(forged, tasks[task], gold, task) != []


# ---------------------------------------------------------------- how efficiency was measured


def _flag_titles(html: str) -> list[str]:
    import re

    return re.findall(r'<span class="flag" role="img" title="([^"]*)">⚑</span>', html)


def test_flagged_figures_carry_a_marker_naming_their_flags(site_board):
    _, site = build(site_board)
    page = (site / "tasks/sentiment.html").read_text()
    delta = _row_of(page, "delta-head")  # measured while other processes took the CPU
    titles = _flag_titles(delta)
    # latency, throughput, model memory: the measured figures; parameters and sizes are exact
    assert len(titles) == 3 and len(set(titles)) == 1
    assert "cpu-contention: other processes used a large share of the CPU" in titles[0]
    assert "high-variation: the repeats differ" in titles[0]
    assert re.search(r'data-sort="355073750.0"[^>]*>355M</td>', delta)
    assert _flag_titles(_row_of(page, "alpha-lora")) == [] and 'class="badge"' in _row_of(page, "alpha-lora")
    assert 'Figures marked <span class="flag">⚑</span> are flagged' in page


def test_a_flagged_entry_loses_its_badge_and_its_place_on_the_front(site_board):
    config = load_config(site_board)
    tasks = load_tasks(config.tasks_dir)
    gamma = load_submission(site_board / "submissions" / "gamma-ia3", tasks).spec
    gold = list(load_examples(tasks["sentiment"], config.data_dir).labels)
    _, site = build(site_board)
    before = (site / "tasks/sentiment.html").read_text()
    assert 'title="Pareto-optimal for latency">latency' in _row_of(before, "gamma-ia3")  # the fastest
    write_record(site_board, gamma, tasks["sentiment"], gold, 0.6, 5, latency_ms=1.0, model_memory_mb=1200.0, **FLAGGED)
    _, site = build(site_board)
    after = (site / "tasks/sentiment.html").read_text()
    assert 'class="badge"' not in _row_of(after, "gamma-ia3") and _flag_titles(_row_of(after, "gamma-ia3"))
    chart = after[after.index('id="chart-latency_ms"') : after.index("</svg>", after.index('id="chart-latency_ms"'))]
    assert "on the Pareto front: Alpha Lora." in chart and "2 flagged or measured on other hardware" in chart
    hollow = [line for line in chart.splitlines() if "flagged-pt" in line]
    assert len(hollow) == 2 and any("Gamma Ia3" in line for line in hollow)
    assert all("front-pt" not in line for line in hollow)
    rows = json.loads((site / "downloads/sentiment/leaderboard.json").read_text())["rows"]
    gamma_row = next(r for r in rows if r["submission"] == "gamma-ia3")
    assert gamma_row["pareto"] == [] and gamma_row["flags"] == ["high-variation", "cpu-contention"]


def test_task_pages_name_the_profile_efficiency_is_compared_on(site_board):
    _, site = build(site_board)
    profile = "cpu: Synthetic CPU @ 2.0GHz x2, 2 threads"
    sentiment = (site / "tasks/sentiment.html").read_text()
    assert f'<p class="note compared">Efficiency compared on: <strong>{profile}</strong>.' in sentiment
    assert '<a href="../methodology.html">How efficiency is measured</a>' in sentiment
    topics = (site / "tasks/topics.html").read_text()
    assert f'<p class="warn compared">Efficiency compared on: <strong>{profile}</strong>. 1 row was' in topics
    beta = _row_of(topics, "beta-full")  # measured on a GPU: the best score, and no badge
    assert 'class="badge"' not in beta and 'cuda: Synthetic H100 <span class="status stale"' in beta
    assert "other-hardware: measured on hardware other than" in _flag_titles(beta)[0]
    assert 'class="badge"' in _row_of(topics, "alpha-lora") and "other profile" not in _row_of(topics, "alpha-lora")


def test_the_board_can_name_its_reference_profile(site_board):
    from site_fixtures import GPU_PROFILE, write_pyproject

    write_pyproject(site_board, reference_hardware=GPU_PROFILE)
    _, site = build(site_board)
    topics = (site / "tasks/topics.html").read_text()
    assert f"Efficiency compared on: <strong>{GPU_PROFILE}</strong>" in topics
    assert "other profile" in _row_of(topics, "alpha-lora") and 'class="badge"' not in _row_of(topics, "alpha-lora")
    assert 'class="badge"' in _row_of(topics, "beta-full") and not _flag_titles(_row_of(topics, "beta-full"))
    model = (site / "models/beta-full.html").read_text()
    assert f"{GPU_PROFILE} (the board&#x27;s reference)" in model


def test_model_pages_show_how_each_figure_was_measured(site_board):
    _, site = build(site_board)
    record = json.loads((site_board / "results/alpha-lora/sentiment.json").read_text())["efficiency"]
    lat, page = record["latency"], (site / "models/alpha-lora.html").read_text()
    section = page[page.index('id="task-sentiment"') : page.index('id="task-topics"')]
    dist = section[section.index('<table class="compact kv dist">') :].split("</table>")[0]
    for label, text in [
        ("Median (p50)", "2 ms (rounds&#x27; means 1.94–2.06)"),
        ("p90 · p95 · p99", f"{lat['p90']:.3g} · {lat['p95']:.3g} · {lat['p99']:.3g} ms"),
        ("Mean ± std", f"{lat['mean']:.3g} ± {lat['std']:.3g} ms (CV 9.8%)"),
        ("Iterations", "64 calls in 4 rounds over 2.5 s (rounds&#x27; CV 1.2%)"),
    ]:
        assert f'<tr><th scope="row">{label}</th><td>{text}</td></tr>' in dist, label
    for label, text in [
        ("Examples/s", "1,174 ex/s median (repeats 1,139–1,209)"),
        ("Repeats", "3 × 512 examples, 12,288 tokens: 1, 1.01, 1.02 s (CV 1.0%)"),
        ("Model memory", "900 MiB (repeats 873–927)"),
        ("Process peak", "1,320 MiB (process RSS)"),
        ("Effective (as deployed)", "22,773,750"),
        ("Hardware profile", "cpu: Synthetic CPU @ 2.0GHz x2, 2 threads (the board&#x27;s reference)"),
        ("Validity", "no flags"),
        ("Other processes&#x27; CPU", "1.0%"),
    ]:
        assert f'<tr><th scope="row">{label}</th><td>{text}</td></tr>' in section, label
    delta = (site / "models/delta-head.html").read_text()
    assert '<tr><th scope="row">⚑ cpu-contention</th><td>other processes used a large share' in delta
    assert '<tr><th scope="row">Other processes&#x27; CPU</th><td>31.0% (limit 15%)</td></tr>' in delta
    assert "Flagged (high-variation, cpu-contention): shown, not compared." in delta


def test_an_adapter_is_compared_merged_and_unmerged(site_board):
    _, site = build(site_board)
    page = (site / "models/alpha-lora.html").read_text()
    section = page[page.index('id="task-sentiment"') : page.index('id="task-topics"')]
    table = section[section.index('<table class="compact unmerged cards">') :].split("</table>")[0]
    assert table.count('data-label="Unmerged ÷ merged"') == 7  # a phone shows each figure as a card
    table = re.sub(r' data-label="[^"]*"', "", table)
    for row in [
        'Latency, batch 1 (ms)</th><td class="num">2 (1.94–2.06)</td><td class="num">2.6 (2.52–2.68)</td>'
        '<td class="num">1.30×, beyond the ranges</td>',
        'Throughput (ex/s)</th><td class="num">1,174 (1,139–1,209)</td><td class="num">903 (876–930)</td>'
        '<td class="num">0.77×, beyond the ranges</td>',
        'Model memory (MiB)</th><td class="num">900 (873–927)</td><td class="num">912 (885–939)</td>'
        '<td class="num">1.01×, within the ranges</td>',
        'Load time (s)</th><td class="num">1.25</td><td class="num">0.9</td><td class="num">0.72×</td>',
        'Parameters</th><td class="num">22,700,000</td><td class="num">22,773,750</td><td class="num">1.0032×</td>',
    ]:
        assert row in table, row
    # a record without an unmerged measurement has no such table
    other = page[page.index('id="task-topics"') :]
    assert "compact unmerged" not in other and "compact unmerged" not in (site / "models/beta-full.html").read_text()


def test_an_old_record_still_renders_and_says_not_measured(site_board):
    _, site = build(site_board)
    page = (site / "models/alpha-lora.html").read_text()
    section = page[page.index('id="task-intents"') : page.index('id="task-sentiment"')]
    for label, text in [
        ("Distribution", "not measured (the record predates the measurement method)"),
        ("Latency recorded", "2.2 ms (method unknown)"),
        ("Repeats", "not measured (one timed pass)"),
        ("Model memory", "not measured"),
        ("Contention", "not measured"),
        ("⚑ not-measured", "the record predates the measurement method (no distribution, no repeats)"),
    ]:
        assert f'<tr><th scope="row">{label}</th><td>{text}</td></tr>' in section, label
    task = (site / "tasks/intents.html").read_text()
    row = _row_of(task, "alpha-lora")
    assert 'class="badge"' not in row and "not-measured: the record predates" in _flag_titles(row)[0]
    assert 'class="rng"' not in row  # no range to show


def test_downloads_carry_ranges_flags_and_profiles(site_board):
    _, site = build(site_board)
    profile = "cpu: Synthetic CPU @ 2.0GHz x2, 2 threads"
    doc = json.loads((site / "downloads/sentiment/leaderboard.json").read_text())
    assert doc["reference_hardware"] == profile
    rows = {r["submission"]: r for r in doc["rows"]}
    assert rows["delta-head"]["flags"] == ["high-variation", "cpu-contention"] and rows["alpha-lora"]["flags"] == []
    assert rows["alpha-lora"]["efficiency"]["latency_ms_lo"] == 1.94 and rows["alpha-lora"]["hardware"] == profile
    text = (site / "downloads/sentiment/leaderboard.csv").read_text()
    head = text.splitlines()[0].split(",")
    ranges = ["latency_ms_lo", "latency_ms_hi", "examples_per_s_lo", "examples_per_s_hi"]
    assert head[head.index("adapter_size_bytes") + 1 :] == [
        *ranges,
        "model_memory_mb_lo",
        "model_memory_mb_hi",
        "hardware",
        "flags",
        "pareto",
        "record_path",
    ]
    table = {r["submission"]: r for r in csv.DictReader(io.StringIO(text))}
    assert table["alpha-lora"]["latency_ms_lo"] == "1.94" and table["alpha-lora"]["hardware"] == profile
    assert table["delta-head"]["flags"] == "high-variation cpu-contention" and table["alpha-lora"]["flags"] == ""
    legacy = {
        r["submission"]: r
        for r in csv.DictReader(io.StringIO((site / "downloads/intents/leaderboard.csv").read_text()))
    }
    assert (
        legacy["alpha-lora"]["latency_ms_lo"] == "" and legacy["alpha-lora"]["flags"] == "other-hardware not-measured"
    )


def test_the_methodology_page_states_the_measurement_policy():
    from dataclasses import fields

    from ftbench.measure import DEFAULT_POLICY, FLAGS

    text = (ROOT / "pages" / "methodology.md").read_text()
    said = {
        "min_iterations": "**50 calls**",
        "min_seconds": "**2 seconds**",
        "max_seconds": "**20 seconds**",
        "latency_sample": "**16 held-out inputs**",
        "throughput_repeats": "**3 times**",
        "throughput_tokens": "**8,192 tokens**",
        "max_cv": "above 10%",
        "max_other_cpu": "more than 15%",
        "max_steal": "more than 5%",
    }
    assert set(said) == {f.name for f in fields(DEFAULT_POLICY)}  # a new setting must be explained
    shown = {
        "min_iterations": f"**{DEFAULT_POLICY.min_iterations} calls**",
        "min_seconds": f"**{DEFAULT_POLICY.min_seconds:g} seconds**",
        "max_seconds": f"**{DEFAULT_POLICY.max_seconds:g} seconds**",
        "latency_sample": f"**{DEFAULT_POLICY.latency_sample} held-out inputs**",
        "throughput_repeats": f"**{DEFAULT_POLICY.throughput_repeats} times**",
        "throughput_tokens": f"**{DEFAULT_POLICY.throughput_tokens:,} tokens**",
        "max_cv": f"above {100 * DEFAULT_POLICY.max_cv:g}%",
        "max_other_cpu": f"more than {100 * DEFAULT_POLICY.max_other_cpu:g}%",
        "max_steal": f"more than {100 * DEFAULT_POLICY.max_steal:g}%",
    }
    assert shown == said and all(phrase in text for phrase in said.values())
    assert all(f"| {flag} |" in text for flag in FLAGS)
    assert "beyond the measured ranges" in text and "merged" in text and "unmerged" in text


def test_the_methodology_page_is_rendered_and_linked(site_board):
    _, site = build(site_board)
    page = (site / "methodology.html").read_text()
    assert '<h1 id="md-how-efficiency-is-measured">How efficiency is measured</h1>' in page
    assert "<td>cpu-steal</td>" in page
    assert '<a href="methodology.html">Methodology</a>' in (site / "index.html").read_text()
    assert (
        '<a href="../methodology.html">How efficiency is measured</a>' in (site / "models/alpha-lora.html").read_text()
    )
