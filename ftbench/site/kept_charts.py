"""Task charts kept in the build's cache folder, each under a digest of what it is drawn from,
so that a rebuild draws again only the charts whose points changed.

A task page has a chart of quality against each of two costs (``context.chart_costs``). A
record measured again moves its point on one or both; a record scored anew moves it on both.
On the 10,000-record benchmark board, drawing one task's two 1,000-point charts (placing their
labels above all) is the longest step of a rebuild after one record changed; the chart whose
points did not move comes out the same, so it is kept.

A chart's key is a digest of the build's shared stamp (``ftbench.site.stamp.scan_inputs``:
the templates, settings and the code that draws it among them), the chart's settings and every
point as drawn (position, interval, label, link, marks and texts). Each chart is kept in one
file, ``<task>.<chart id>.svg.html``, that starts with its key's line: one under another key,
or unreadable, is drawn again (and replaced). ``build --force`` draws every chart again. The
files hold HTML the build wrote itself and are trusted as the other caches are.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from ftbench.site.charts import Chart, Point

CHARTS = "charts"
"""Where in the build's cache folder the charts are kept."""


@dataclass(frozen=True)
class KeptCharts:
    """One task's kept charts: where (``folder``), under what every chart's key includes
    (``shared``), and whether to draw anew whatever is kept (``force``)."""

    folder: Path
    shared: str
    task: str
    force: bool = False

    def chart(self, chart: Chart, points: Sequence[Point], draw: Callable[[], Markup]) -> Markup:
        """The chart of ``points`` kept under their key, else ``draw()`` (then kept)."""
        key = chart_key(self.shared, chart, points)
        path = self.folder / f"{self.task}.{chart.chart_id}.svg.html"
        if not self.force:
            with contextlib.suppress(OSError, UnicodeDecodeError), path.open("rb") as kept:
                if kept.readline(len(key) + 1) == key.encode() + b"\n":
                    return Markup(kept.read().decode("utf-8"))
        drawn = draw()
        with contextlib.suppress(OSError):  # a cache: the build is done without it
            from ftbench.files import write_atomic

            write_atomic(path, key.encode() + b"\n" + str(drawn).encode("utf-8"), fsync=False)
        return drawn


def chart_key(shared: str, chart: Chart, points: Sequence[Point]) -> str:
    """A digest of everything a chart is drawn from (``repr`` of frozen dataclasses of
    strings, numbers and tuples: the same values give the same text)."""
    return hashlib.sha256(repr((shared, chart, tuple(points))).encode()).hexdigest()


def prune_charts(folder: Path, tasks: set[str]) -> None:
    """Delete the kept charts of tasks no longer on the board."""
    with contextlib.suppress(OSError):
        for path in folder.glob("*.svg.html"):
            if path.name.split(".")[0] not in tasks:
                path.unlink(missing_ok=True)
