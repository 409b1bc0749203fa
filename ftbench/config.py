"""Where a board keeps its parts: read once from ``[tool.ftbench]`` in the board's pyproject.toml."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomllib

from ftbench import DEFAULT_BATCH_SIZE
from ftbench.errors import FtbenchError

DEFAULTS: dict[str, object] = {
    "data_dir": "data",
    "tasks_dir": "tasks",
    "submissions_dir": "submissions",
    "results_dir": "results",
    "site_dir": "site",
    "templates_dir": "templates",
    "pages_dir": "pages",
    "baselines_dir": "baselines",
    "cache_dir": ".ftbench-cache",
    "base_url": "/",
    "repository_url": "",
    "title": "ftbench leaderboard",
    "batch_size": DEFAULT_BATCH_SIZE,
    "data_url": "",
    "reference_hardware": "",
}


@dataclass(frozen=True)
class BoardConfig:
    """Resolved, absolute locations of one leaderboard repository."""

    root: Path
    """The board's root folder (holds pyproject.toml, submissions/, tasks/)."""
    data_dir: Path
    """Held-out and training data, laid out as ``<dataset>/<split>.jsonl`` plus ``meta.json``."""
    tasks_dir: Path
    """Task definitions, one YAML file per task."""
    submissions_dir: Path
    """One folder per submission."""
    results_dir: Path
    """Result records, ``<submission id>/<task>.json``."""
    site_dir: Path
    """Where ``ftbench build`` writes the static site."""
    templates_dir: Path
    """Jinja2 templates of the site."""
    pages_dir: Path
    """Markdown pages (about, how to submit) rendered into the site."""
    baselines_dir: Path
    """Reference baselines with per-example predictions, ``<task>.json`` (``ftbench baselines``)."""
    cache_dir: Path | None = None
    """Derived files kept between runs (GGUF checkpoints dequantised to safetensors, under
    ``gguf/<sha256 of the GGUF file>``); ``FTBENCH_CACHE_DIR`` overrides it."""
    base_url: str = "/"
    """URL prefix the site is served under (``/ftbench/`` on a GitHub Pages project site)."""
    title: str = "ftbench leaderboard"
    """Site title."""
    repository_url: str = ""
    """The board's repository (``https://github.com/<owner>/<repo>``): linked from every page
    with its submissions and an example ``submission.yaml``; empty: no link."""
    batch_size: int = DEFAULT_BATCH_SIZE
    """The board's batch size: records evaluated at another one are not current (it is part of
    the content key, and a board compares like with like)."""
    local_models: dict[str, str] = field(default_factory=dict)
    """``"hub id@revision"`` -> local folder (or ``package:module/sub``) holding the same files."""
    data_url: str = ""
    """Mirror the held-out files are fetched from (``ftbench data fetch``), laid out like the
    data directory; every file is checked against its task's sha256."""
    measurement: dict[str, float] = field(default_factory=dict)
    """``[tool.ftbench.measurement]``: overrides of the efficiency measurement policy
    (``ftbench.measure.Policy``'s fields: iterations, seconds, repeats, noise thresholds)."""
    reference_hardware: str = ""
    """The hardware profile (``ftbench.provenance.hardware_profile``) the board's efficiency
    figures are compared on; empty: the profile most current records were measured on.
    Figures from another profile are shown, flagged, and left out of badges and fronts."""
    record_key: bytes | None = field(default=None, repr=False)
    """The board's CI signing key (``FTBENCH_RECORD_KEY``, a secret of the main workflow only):
    when set, records are signed when made and a record without a valid signature is stale."""

    def with_overrides(self, **paths: str | Path | None) -> BoardConfig:
        """Return a copy with the given locations replaced (``None`` keeps the current one)."""
        changes: dict[str, Any] = {k: Path(v).resolve() for k, v in paths.items() if v is not None}
        return replace(self, **changes)


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` whose pyproject.toml has ``[tool.ftbench]``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and "tool" in (t := _read_toml(candidate)) and "ftbench" in t["tool"]:
            return folder
    raise FtbenchError(
        f"no ftbench board found at or above {here}: expected a pyproject.toml with a "
        "[tool.ftbench] table (run inside the leaderboard repository, or pass --root)"
    )


def load_config(root: Path | None = None) -> BoardConfig:
    """Read the board configuration; ``FTBENCH_DATA_DIR`` overrides the data directory and
    ``FTBENCH_RECORD_KEY`` (never a file) holds the CI's record-signing key."""
    root = find_root(root) if root is None else root.resolve()
    pyproject = root / "pyproject.toml"
    table = _read_toml(pyproject).get("tool", {}).get("ftbench", {}) if pyproject.is_file() else {}
    unknown = sorted(set(table) - set(DEFAULTS) - {"local_models", "measurement"})
    if unknown:
        raise FtbenchError(f"{pyproject}:tool.ftbench.{unknown[0]}: unknown setting")
    values = {**DEFAULTS, **table}
    if os.environ.get("FTBENCH_DATA_DIR"):
        values["data_dir"] = os.environ["FTBENCH_DATA_DIR"]
    if os.environ.get("FTBENCH_CACHE_DIR"):
        values["cache_dir"] = os.environ["FTBENCH_CACHE_DIR"]
    paths = {k: (root / str(values[k])).resolve() for k in DEFAULTS if k.endswith("_dir")}
    base_url = str(values["base_url"])
    batch_size = values["batch_size"]
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise FtbenchError(f"{pyproject}:tool.ftbench.batch_size: must be a positive integer")
    return BoardConfig(
        root=root,
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        title=str(values["title"]),
        repository_url=str(values["repository_url"]).rstrip("/"),
        batch_size=batch_size,
        data_url=str(values["data_url"]),
        reference_hardware=str(values["reference_hardware"]),
        local_models=dict(table.get("local_models", {})),
        measurement=_measurement(table.get("measurement", {}), pyproject),
        record_key=os.environ.get("FTBENCH_RECORD_KEY", "").encode() or None,
        **paths,
    )


def _measurement(table: object, pyproject: Path) -> dict[str, float]:
    """The ``[tool.ftbench.measurement]`` table: numbers only (``ftbench.measure.policy`` checks the names)."""
    if not isinstance(table, dict):
        raise FtbenchError(f"{pyproject}:tool.ftbench.measurement: must be a table")
    for key, value in table.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise FtbenchError(f"{pyproject}:tool.ftbench.measurement.{key}: must be a non-negative number")
    return dict(table)


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise FtbenchError(f"{path}:-: invalid TOML: {exc}") from None


def mirror_folder(spec: str) -> Path:
    """Folder of a local mirror: a path, or ``package:<module>/<sub folder>``."""
    if spec.startswith("package:"):
        module, _, sub = spec.removeprefix("package:").partition("/")
        found = importlib.util.find_spec(module)
        if found is None or not found.submodule_search_locations:
            raise FtbenchError(
                f"local model mirror {spec!r}: Python package {module!r} is not "
                f"installed (pip install {module.replace('_', '-')})"
            )
        folder = Path(next(iter(found.submodule_search_locations))) / sub
    else:
        folder = Path(spec).expanduser()
    if not folder.is_dir():
        raise FtbenchError(f"local model mirror {spec!r}: folder {folder} not found")
    return folder.resolve()
