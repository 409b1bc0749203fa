"""`ftbench data fetch`: an empty data folder filled from a mirror served on loopback, every
file checked against its task's sha256, and the board evaluated from it."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import pytest
from click.testing import CliRunner

from conftest import DATA_DIR, keyword_model
from ftbench.cli import main
from ftbench.config import load_config

TASKS = ("sst2", "trec")


@pytest.fixture
def mirror(tmp_path):
    """A web server on 127.0.0.1 serving a copy of two datasets; yields (url, its folder)."""
    served = tmp_path / "served"
    for name in TASKS:
        (served / name).mkdir(parents=True)
        shutil.copy(DATA_DIR / name / "test.jsonl", served / name / "test.jsonl")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", served
    finally:
        server.shutdown()
        server.server_close()


def _fetch(board, data, *args):
    command = ["--root", str(board), "data", "fetch", "--data-dir", str(data), *args]
    return CliRunner().invoke(main, command, catch_exceptions=False)


def test_fetch_fills_an_empty_data_folder_and_the_board_evaluates_from_it(board, make_submission, mirror, tmp_path):
    url, _ = mirror
    data = tmp_path / "data"
    options = [arg for name in TASKS for arg in ("--task", name)]
    first = _fetch(board, data, "--from", url, *options)
    assert first.exit_code == 0, first.output
    assert [line.split()[:2] for line in first.stdout.splitlines()] == [["fetched", "sst2"], ["fetched", "trec"]]
    assert (data / "sst2" / "test.jsonl").read_bytes() == (DATA_DIR / "sst2" / "test.jsonl").read_bytes()
    again = _fetch(board, data, "--from", url, *options)
    assert [line.split()[0] for line in again.stdout.splitlines()] == ["present", "present"]

    from ftbench.evaluate import EvalSettings, evaluate_pending

    make_submission()
    config = load_config(board).with_overrides(data_dir=data)
    report = evaluate_pending(config, settings=EvalSettings(progress=False), backend=keyword_model)
    assert [job.name for job, _ in report.done] == ["my-model/sst2"] and not report.failed


def test_a_file_that_differs_from_its_sha256_is_refused_and_not_written(board, mirror, tmp_path):
    url, served = mirror
    tampered = served / "trec" / "test.jsonl"
    tampered.write_text(tampered.read_text().replace('"label": 0', '"label": 1', 1))
    data = tmp_path / "data"
    result = _fetch(board, data, "--from", url, "--task", "trec")
    assert result.exit_code == 1
    assert "does not match data_sha256" in result.stderr and "trec/test.jsonl" in result.stderr
    assert not (data / "trec").exists() or not any((data / "trec").iterdir())


def test_fetch_needs_a_mirror_and_refuses_other_schemes(board, tmp_path):
    assert "pass --from URL" in _fetch(board, tmp_path / "d").stderr
    assert "give an https://" in _fetch(board, tmp_path / "d", "--from", "ftp://example.org/").stderr
    missing = _fetch(board, tmp_path / "d", "--from", "http://127.0.0.1:9/", "--task", "trec")
    assert missing.exit_code == 1 and "could not download" in missing.stderr
