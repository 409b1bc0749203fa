"""Where point labels go (pure): boxes that overlap nothing, beside their points where they
can be, else joined to them by a leader line that crosses nothing."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in pixels."""

    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: Box, gap: float = 0.0) -> bool:
        """Whether the two boxes, each grown by ``gap``, intersect."""
        return (
            self.x0 - gap < other.x1
            and other.x0 - gap < self.x1
            and self.y0 - gap < other.y1
            and other.y0 - gap < self.y1
        )

    def within(self, area: Box) -> bool:
        """Whether the box lies inside ``area``."""
        return area.x0 <= self.x0 and self.x1 <= area.x1 and area.y0 <= self.y0 and self.y1 <= area.y1

    def nearest(self, x: float, y: float) -> tuple[float, float]:
        """The point of the box nearest to ``(x, y)``."""
        return min(max(x, self.x0), self.x1), min(max(y, self.y0), self.y1)

    def distance(self, x: float, y: float) -> float:
        """Distance from ``(x, y)`` to the box (0 inside it)."""
        nx, ny = self.nearest(x, y)
        return math.sqrt((nx - x) ** 2 + (ny - y) ** 2)


def around(x: float, y: float, radius: float) -> Box:
    """The square box of half-width ``radius`` centred on ``(x, y)``."""
    return Box(x - radius, y - radius, x + radius, y + radius)


def place_labels(
    anchors: Sequence[tuple[float, float]],
    shapes: Sequence[Sequence[tuple[float, float]]],
    *,
    area: Box,
    obstacles: Sequence[Box] = (),
    soft: Sequence[Box] = (),
    unlabelled: Sequence[tuple[float, float]] = (),
    offset: float = 9.0,
    step: float = 6.0,
) -> list[Box]:
    """Label boxes, one per anchor, placed in order where each is free (inside ``area``, clear
    of every obstacle and of the boxes placed before it) and plain (nearer its own anchor than
    any other). Each label has one or more ``(width, height)`` shapes (its text wrapped at
    different widths), the first preferred. A label goes beside its anchor in any of its shapes
    if it can (right, left, above, below, then the corners), else in its first shape at the
    nearest plain free spot whose leader line crosses nothing (within :data:`FAR` if there is
    one), else beside it anyway, else at the nearest free spot; among spots about as near, the
    one crossing fewest ``soft`` boxes (error bars) wins. Where no spot is free, the one that
    overlaps least. ``unlabelled``: points without a label, which a label must not be nearer
    to than to its own.

    >>> area = Box(0.0, 0.0, 200.0, 100.0)
    >>> place_labels([(50.0, 50.0), (60.0, 50.0)], [[(40.0, 12.0)], [(40.0, 12.0)]], area=area)
    [Box(x0=1.0, y0=44.0, x1=41.0, y1=56.0), Box(x0=69.0, y0=44.0, x1=109.0, y1=56.0)]
    """
    placed: list[Box] = []
    fixed = Occupancy(area, obstacles)
    soft = _as_boxes(soft)
    base = _as_boxes(obstacles)
    # every place once (a crowded board puts many entries on the same spot), counted once for all labels
    places = np.unique(np.array([*anchors, *unlabelled], dtype=float).reshape(-1, 2), axis=0)
    counts = PointCounts(area, places) if len(places) > PointCounts.WORTH else None
    for i, ((x, y), options) in enumerate(zip(anchors, shapes, strict=True)):
        hard = base.plus(placed)
        others = list(dict.fromkeys([*(a for j, a in enumerate(anchors) if j != i), *unlabelled]))  # each place once
        # the table counts this label's own place, which is among the others only when shared
        alone = (x, y) not in others
        within = (counts, (x, y) if alone else None)
        placed.append(_place(x, y, options, area, hard, soft, others, offset, step, (fixed, placed), within))
    return placed


REORDERED = 12
"""Up to this many labels, other orders of placing them are tried too (each costs a placing)."""


def arrange_labels(
    anchors: Sequence[tuple[float, float]],
    shapes: Sequence[Sequence[tuple[float, float]]],
    *,
    area: Box,
    obstacles: Sequence[Box] = (),
    soft: Sequence[Box] = (),
    unlabelled: Sequence[tuple[float, float]] = (),
    offset: float = 9.0,
) -> list[Box]:
    """:func:`place_labels` in the given order (the first labels have the first pick) and in
    three more (top to bottom, bottom to top, left to right) when there are at most
    :data:`REORDERED` points (labelled or not): the arrangement whose labels are nearest their anchors in all, and
    overlap nothing, wins (the given order on a tie). The boxes come in the order of
    ``anchors``."""
    n = len(anchors)
    orders = [list(range(n))]
    if n + len(unlabelled) <= REORDERED:
        orders += [
            sorted(range(n), key=lambda i: (anchors[i][1], i)),
            sorted(range(n), key=lambda i: (-anchors[i][1], i)),
            sorted(range(n), key=lambda i: (anchors[i][0], i)),
        ]
    best: tuple[float, list[Box]] | None = None
    for order in orders:
        boxes = place_labels(
            [anchors[i] for i in order],
            [shapes[i] for i in order],
            area=area,
            obstacles=obstacles,
            soft=soft,
            unlabelled=unlabelled,
            offset=offset,
        )
        placed_at = {anchor: k for k, anchor in enumerate(order)}
        arranged = [boxes[placed_at[i]] for i in range(n)]
        clashes = sum(a.overlaps(b) for k, a in enumerate(arranged) for b in [*arranged[k + 1 :], *obstacles])
        cost = 1000.0 * clashes + sum(round(b.distance(*a), 3) for b, a in zip(arranged, anchors, strict=True))
        if best is None or cost < best[0]:
            best = (cost, arranged)
        if not clashes and all(b.distance(*a) <= offset + 1e-6 for b, a in zip(arranged, anchors, strict=True)):
            break  # every label beside its anchor: no order does better
    return best[1] if best else []


FAR = 90.0
"""How far from its anchor a label may be moved to be plain before it settles for beside."""


def plain(box: Box, anchor: tuple[float, float], others: Sequence[tuple[float, float]]) -> bool:
    """Whether ``box`` is nearer ``anchor`` than any of the ``others`` (by 2 px or more)."""
    own = box.distance(*anchor)
    return all(box.distance(*o) > own + 2 for o in others)


def _place(
    x: float,
    y: float,
    shapes: Sequence[tuple[float, float]],
    area: Box,
    hard: Sequence[Box],
    soft: Sequence[Box],
    others: Sequence[tuple[float, float]],
    offset: float,
    step: float,
    taken: tuple[Occupancy, Sequence[Box]],
    counted: tuple[PointCounts | None, tuple[float, float] | None] = (None, None),
) -> Box:
    beside = [b for w, h in shapes for b in _beside(x, y, w, h, offset)]
    free = [b for b in beside if _free(b, area, hard)]
    best = _fewest_crossings([b for b in free if plain(b, (x, y), others)], soft)
    if best is not None:
        return best
    grid = _Grid(x, y, *shapes[0], area, step, taken, others, counted)
    held = _as_boxes(hard)  # the hard boxes that do not hold the anchor, as a block
    hx0, hy0, hx1, hy1 = held.corners.T
    apart = np.flatnonzero((hx0 > x) | (x > hx1) | (hy0 > y) | (y > hy1))
    soft = _as_boxes(soft)
    blockers = _Boxes.joined([held[int(i)] for i in apart], held.corners[apart], soft)
    corners = blockers.corners.T

    def clear(b: Box) -> bool:
        # leader_clear, on only the blockers whose bounds meet the line's
        line = leader(b, (x, y), offset)
        if line is None:
            return True
        (lx0, lx1), (ly0, ly1) = sorted(line[::2]), sorted(line[1::2])
        near = (corners[0] <= lx1) & (lx0 <= corners[2]) & (corners[1] <= ly1) & (ly0 <= corners[3])
        return not any(_crosses(blockers[i], line) for i in np.flatnonzero(near))

    return (
        _nearest(grid.spots(plain=True, within=FAR), soft, step, clear)
        or _nearest(grid.spots(plain=True), soft, step, clear)
        or _fewest_crossings(free, soft)
        or _nearest(grid.spots(), soft, step, lambda b: True)
        or grid.least_overlapping()
    )


def _beside(x: float, y: float, w: float, h: float, offset: float) -> list[Box]:
    d = offset * 0.85  # the corners: about as near as the sides
    return [
        Box(x + offset, y - h / 2, x + offset + w, y + h / 2),
        Box(x - offset - w, y - h / 2, x - offset, y + h / 2),
        Box(x - w / 2, y - offset - h, x + w / 2, y - offset),
        Box(x - w / 2, y + offset, x + w / 2, y + offset + h),
        Box(x + d, y - d - h, x + d + w, y - d),
        Box(x - d - w, y - d - h, x - d, y - d),
        Box(x + d, y + d, x + d + w, y + d + h),
        Box(x - d - w, y + d, x - d, y + d + h),
    ]


def leader(box: Box, anchor: tuple[float, float], offset: float) -> tuple[float, float, float, float] | None:
    """The leader line from ``offset`` px out of ``anchor`` to the nearest point of ``box``;
    None when the box is that near."""
    x, y = anchor
    nx, ny = box.nearest(x, y)
    gap = math.sqrt((nx - x) ** 2 + (ny - y) ** 2)
    if gap <= offset:
        return None
    return x + (nx - x) * offset / gap, y + (ny - y) * offset / gap, nx, ny


def leader_clear(box: Box, anchor: tuple[float, float], blockers: Sequence[Box], offset: float) -> bool:
    """Whether the leader line to ``box`` crosses none of the ``blockers`` (so that it never
    runs along an error bar or past another point).

    >>> leader_clear(Box(20.0, 40.0, 60.0, 50.0), (20.0, 0.0), [Box(17.0, -10.0, 23.0, 30.0)], 7.0)
    False
    >>> leader_clear(Box(40.0, 40.0, 80.0, 50.0), (20.0, 0.0), [Box(17.0, -10.0, 23.0, 30.0)], 7.0)
    True
    """
    line = leader(box, anchor, offset)
    return line is None or not any(_crosses(b, line) for b in blockers)


def _crosses(box: Box, line: tuple[float, float, float, float]) -> bool:
    """Whether the segment meets the box (Liang-Barsky clipping)."""
    x0, y0, x1, y1 = line
    dx, dy = x1 - x0, y1 - y0
    low, high = 0.0, 1.0
    for p, q in ((-dx, x0 - box.x0), (dx, box.x1 - x0), (-dy, y0 - box.y0), (dy, box.y1 - y0)):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        low, high = (max(low, t), high) if p < 0 else (low, min(high, t))
        if low > high:
            return False
    return True


class Occupancy:
    """Whether boxes overlap any of many fixed boxes (each grown by 1 px, as
    :meth:`Box.overlaps` with ``gap=1`` sees them), for thousands of boxes at once.

    Two summed-area tables of whole pixels answer most boxes in four look-ups each: the pixels
    the fixed boxes touch (rounded outwards: a box touching none overlaps nothing) and the
    pixels they cover whole (rounded inwards: a box covering one of those overlaps). The few
    boxes between the two, near an edge, are compared exactly."""

    def __init__(self, area: Box, boxes: Sequence[Box]) -> None:
        self.x0, self.y0 = math.floor(area.x0) - 2, math.floor(area.y0) - 2
        self.width = math.ceil(area.x1) + 2 - self.x0
        self.height = math.ceil(area.y1) + 2 - self.y0
        self.corners = np.array([(b.x0 - 1, b.y0 - 1, b.x1 + 1, b.y1 + 1) for b in boxes], dtype=float).reshape(-1, 4)
        self.outer = self._table(*self._cells(self.corners, outwards=True))
        self.inner = self._table(*self._cells(self.corners, outwards=False))

    def _cells(self, c: np.ndarray, outwards: bool) -> tuple[np.ndarray, ...]:
        """Pixel columns and rows ``[c0, c1)``, ``[r0, r1)`` of boxes given by corner columns."""
        low, high = (np.floor, np.ceil) if outwards else (np.ceil, np.floor)
        c0 = np.clip(low(c[:, 0] - self.x0), 0, self.width).astype(int)
        r0 = np.clip(low(c[:, 1] - self.y0), 0, self.height).astype(int)
        c1 = np.clip(high(c[:, 2] - self.x0), 0, self.width).astype(int)
        r1 = np.clip(high(c[:, 3] - self.y0), 0, self.height).astype(int)
        return c0, r0, c1, r1

    def _table(self, c0: np.ndarray, r0: np.ndarray, c1: np.ndarray, r1: np.ndarray) -> np.ndarray:
        covered = np.zeros((self.height, self.width), dtype=np.int32)
        for a, b, c, d in zip(c0.tolist(), r0.tolist(), c1.tolist(), r1.tolist(), strict=True):
            covered[b:d, a:c] = 1
        table = np.zeros((self.height + 1, self.width + 1), dtype=np.int64)
        table[1:, 1:] = covered.cumsum(0).cumsum(1)
        return table

    def touched(self, x: np.ndarray, y: np.ndarray, w: float, h: float) -> np.ndarray:
        """Whether each box ``(x, y, w, h)`` overlaps a fixed box."""
        boxes = np.stack([x, y, x + w, y + h], axis=1)
        surely = _count(self.inner, *self._cells(boxes, outwards=False)) > 0
        maybe = _count(self.outer, *self._cells(boxes, outwards=True)) > 0
        out = surely.copy()
        near = np.flatnonzero(maybe & ~surely)  # near an edge: compared exactly, a block at a time
        c = self.corners
        for at in range(0, near.size, BLOCK):
            rows = near[at : at + BLOCK]
            b = boxes[rows]
            hit = (b[:, 0, None] < c[None, :, 2]) & (c[None, :, 0] < b[:, 2, None])
            hit &= (b[:, 1, None] < c[None, :, 3]) & (c[None, :, 1] < b[:, 3, None])
            out[rows] = hit.any(axis=1)
        return out


def _count(t: np.ndarray, c0: np.ndarray, r0: np.ndarray, c1: np.ndarray, r1: np.ndarray) -> np.ndarray:
    """Covered pixels in each of the rectangles (empty where ``c1 <= c0`` or ``r1 <= r0``)."""
    c1, r1 = np.maximum(c1, c0), np.maximum(r1, r0)
    return t[r1, c1] - t[r0, c1] - t[r1, c0] + t[r0, c0]


class _Grid:
    """Boxes of one size on a grid over ``area``, nearest ``(x, y)`` first, with whether each
    is free (of the ``hard`` boxes) and plain (nearer ``(x, y)`` than any of the ``others``):
    numpy arrays, since a grid has thousands of boxes and most are never looked at."""

    def __init__(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        area: Box,
        step: float,
        taken: tuple[Occupancy, Sequence[Box]],
        others: Sequence[tuple[float, float]],
        counted: tuple[PointCounts | None, tuple[float, float] | None] = (None, None),
    ) -> None:
        xs = np.append(area.x0 + step * np.arange(max(int((area.x1 - w - area.x0) // step) + 1, 0)), area.x1 - w)
        ys = np.append(area.y0 + step * np.arange(max(int((area.y1 - h - area.y0) // step) + 1, 0)), area.y1 - h)
        bx, by = (a.ravel() for a in np.meshgrid(xs[xs >= area.x0], ys[ys >= area.y0]))
        d = np.round(_distances(bx, by, w, h, x, y), 3)
        order = np.lexsort((bx, by, d))
        self.x, self.y, self.d, self.w, self.h = bx[order], by[order], d[order], w, h
        self.ax, self.ay = x, y
        fixed, placed = taken
        y1 = self.y + h
        self.clashes = fixed.touched(self.x, self.y, w, h).astype(int)
        for o in placed:  # the labels placed so far: few, compared exactly
            self.clashes += (self.x - 1 < o.x1) & (o.x0 - 1 < self.x + w) & (self.y - 1 < o.y1) & (o.y0 - 1 < y1)
        # whether a box is plain depends on where the other points are, not on how many share a
        # place: each place once (a crowded board puts many entries on the same spot)
        self.others = np.unique(np.array(others, dtype=float).reshape(-1, 2), axis=0)
        self.counts, self.own = counted
        """Every place counted (:class:`PointCounts`, or None), and the anchor's own place
        where the counts hold it but the others do not."""
        self.known = np.zeros(self.x.size, dtype=bool)
        """Whether :attr:`plain` is worked out for a box yet (it is, lazily, for the ones looked at)."""
        self.plain = np.ones(self.x.size, dtype=bool)
        self.fallback = Box(area.x0, y - h / 2, area.x0 + w, y + h / 2)

    def box(self, i: int) -> Box:
        return Box(float(self.x[i]), float(self.y[i]), float(self.x[i]) + self.w, float(self.y[i]) + self.h)

    def spots(self, *, plain: bool = False, within: float = math.inf) -> Iterator[tuple[float, Box]]:
        """The free boxes (only the plain ones if ``plain``) within ``within`` px, nearest first."""
        keep = np.flatnonzero((self.clashes == 0) & (self.d <= within))
        for at in range(0, keep.size, BLOCK):
            block = keep[at : at + BLOCK]
            if plain:
                self._work_out_plain(block)
                block = block[self.plain[block]]
            for i in block:
                yield float(self.d[i]), self.box(int(i))

    def _work_out_plain(self, block: np.ndarray) -> None:
        """Fill in :attr:`plain` for the boxes ``block`` (grid indices). Most boxes are settled
        by counting the other points in two squares around them (:class:`PointCounts`): none
        within the box grown by its distance + 2 (the circle of that radius lies inside): plain;
        one within the box grown by that over the square root of 2 (inside the circle): not
        plain; only the boxes between are measured against every point near enough."""
        todo = block[~self.known[block]]
        if todo.size and self.others.size and self.counts is not None:
            plain, sure = self.counts.settle(self.x[todo], self.y[todo], self.w, self.h, self.d[todo] + 2, self.own)
            self.plain[todo[sure]] = plain[sure]
            self.known[todo[sure]] = True
            todo = todo[~sure]
        if todo.size and self.others.size:
            # Only a point within d + 2 of a box can be nearer it than its anchor, and every such
            # point lies within 2 d + 2 + the box's diagonal of the anchor: the others are left out.
            reach = 2 * float(self.d[todo].max()) + 2 + math.hypot(self.w, self.h) + 1
            others = self.others[np.hypot(self.others[:, 0] - self.ax, self.others[:, 1] - self.ay) <= reach]
            x, y = self.x[todo, None], self.y[todo, None]
            near = _distances(x, y, self.w, self.h, others[None, :, 0], others[None, :, 1])
            self.plain[todo] = (near > self.d[todo, None] + 2).all(1)
        self.known[todo] = True

    def least_overlapping(self) -> Box:
        """The nearest of the boxes overlapping fewest hard boxes."""
        return self.box(int(np.argmin(self.clashes))) if self.x.size else self.fallback


class PointCounts:
    """How many of many points lie in each of many rectangles, four look-ups each: a
    summed-area table of the points counted by whole pixel. A rectangle's count is taken two
    ways: over the pixels it touches (rounded outwards: every point inside it, and maybe a few
    just outside) and over those it covers whole (rounded inwards: only points inside it)."""

    WORTH = 32
    """Fewer points than this are measured directly (the table costs more than it saves)."""

    def __init__(self, area: Box, points: np.ndarray) -> None:
        self.x0, self.y0 = math.floor(area.x0) - 1, math.floor(area.y0) - 1
        self.width = math.ceil(area.x1) + 2 - self.x0
        self.height = math.ceil(area.y1) + 2 - self.y0
        inside = (points[:, 0] >= self.x0) & (points[:, 0] < self.x0 + self.width)
        inside &= (points[:, 1] >= self.y0) & (points[:, 1] < self.y0 + self.height)
        self.outside = int(np.count_nonzero(~inside))  # off the table: never settled as absent
        cols, rows = self._pixel(points[inside, 0], points[inside, 1])
        cells = np.bincount(rows * self.width + cols, minlength=self.width * self.height)
        self.table = np.zeros((self.height + 1, self.width + 1), dtype=np.int64)
        self.table[1:, 1:] = cells.reshape(self.height, self.width).cumsum(0).cumsum(1)

    def _holds(self, point: tuple[float, float]) -> bool:
        x, y = point
        return self.x0 <= x < self.x0 + self.width and self.y0 <= y < self.y0 + self.height

    def _pixel(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cols = np.clip(np.floor(x - self.x0), 0, self.width - 1).astype(np.int64)
        rows = np.clip(np.floor(y - self.y0), 0, self.height - 1).astype(np.int64)
        return cols, rows

    def _count(self, rect: tuple[np.ndarray, ...], outwards: bool, minus: tuple[float, float] | None) -> np.ndarray:
        x0, y0, x1, y1 = rect
        low, high = (np.floor, np.ceil) if outwards else (np.ceil, np.floor)
        c0 = np.clip(low(x0 - self.x0), 0, self.width).astype(np.int64)
        r0 = np.clip(low(y0 - self.y0), 0, self.height).astype(np.int64)
        # a point exactly on the far edge of a closed rectangle lies in the next pixel: one more
        c1 = np.clip(high(x1 - self.x0) + (1 if outwards else 0), 0, self.width).astype(np.int64)
        r1 = np.clip(high(y1 - self.y0) + (1 if outwards else 0), 0, self.height).astype(np.int64)
        found = _count(self.table, c0, r0, c1, r1)
        if minus is not None and self._holds(minus):  # a place counted that is not one asked about
            col, row = (int(v[0]) for v in self._pixel(np.array([minus[0]]), np.array([minus[1]])))
            found = found - ((c0 <= col) & (col < c1) & (r0 <= row) & (row < r1))
        return found

    def settle(
        self,
        x: np.ndarray,
        y: np.ndarray,
        w: float,
        h: float,
        reach: np.ndarray,
        minus: tuple[float, float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """For boxes ``(x, y, w, h)``: whether no point (but ``minus``, a place counted that is
        not asked about) is within ``reach`` of each (as far as settled), and whether that is
        settled (else the box must be measured)."""
        near = self._count((x - reach, y - reach, x + w + reach, y + h + reach), True, minus)
        inner = reach / math.sqrt(2) * (1 - 1e-9)
        surely = self._count((x - inner, y - inner, x + w + inner, y + h + inner), False, minus)
        none = (near == 0) & (self.outside == 0)
        some = surely > 0
        return none, none | some


BLOCK = 256
"""Obstacles or points compared with a grid at once (bounds the arrays' memory)."""


def _distances(bx: np.ndarray, by: np.ndarray, w: float, h: float, x: Any, y: Any) -> np.ndarray:
    """Distances from ``(x, y)`` to the boxes of size ``w`` by ``h`` at ``(bx, by)``."""
    dx = np.maximum(np.maximum(bx - x, 0.0), x - bx - w)
    dy = np.maximum(np.maximum(by - y, 0.0), y - by - h)
    return np.sqrt(dx * dx + dy * dy)


def _nearest(
    spots: Iterable[tuple[float, Box]], soft: Sequence[Box], step: float, wanted: Callable[[Box], bool]
) -> Box | None:
    """The nearest ``wanted`` spot, or among those within ``step`` of it the one crossing
    fewest soft boxes."""
    found: list[Box] = []
    first = 0.0
    for d, b in spots:
        if found and d > first + step:
            break
        if wanted(b):
            first = d if not found else first
            found.append(b)
    return _fewest_crossings(found, soft)


class _Boxes(tuple):
    """Boxes with their corners as one ``(n, 4)`` array, so that one box is compared with all
    of them at once (a chart of a large board has thousands of points and error bars)."""

    corners: np.ndarray

    def __new__(cls, boxes: Iterable[Box]) -> _Boxes:
        made = super().__new__(cls, boxes)
        made.corners = np.array([(b.x0, b.y0, b.x1, b.y1) for b in made], dtype=float).reshape(-1, 4)
        return made

    @classmethod
    def joined(cls, boxes: Sequence[Box], corners: np.ndarray, more: _Boxes) -> _Boxes:
        """``boxes`` (whose corners are ``corners``) then ``more``, without listing corners again."""
        made = super().__new__(cls, [*boxes, *more])
        made.corners = np.concatenate([corners.reshape(-1, 4), more.corners])
        return made

    def plus(self, boxes: Sequence[Box]) -> _Boxes:
        """These boxes and then ``boxes``."""
        return _Boxes.joined(list(self), self.corners, _Boxes(boxes))

    def overlapping(self, box: Box, gap: float = 0.0) -> np.ndarray:
        """Whether each of them and ``box`` overlap (:meth:`Box.overlaps`, the same sums)."""
        c = self.corners
        return (box.x0 - gap < c[:, 2]) & (c[:, 0] - gap < box.x1) & (box.y0 - gap < c[:, 3]) & (c[:, 1] - gap < box.y1)


def _as_boxes(boxes: Sequence[Box]) -> _Boxes:
    return boxes if isinstance(boxes, _Boxes) else _Boxes(boxes)


def _fewest_crossings(boxes: Sequence[Box], soft: Sequence[Box]) -> Box | None:
    """The first of ``boxes`` that overlaps fewest of the ``soft`` ones."""
    if not boxes:
        return None
    many = _as_boxes(soft)
    return min(boxes, key=lambda b: int(np.count_nonzero(many.overlapping(b))))


def _free(box: Box, area: Box, hard: Sequence[Box]) -> bool:
    return box.within(area) and not _as_boxes(hard).overlapping(box, 1.0).any()
