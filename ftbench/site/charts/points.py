"""What a chart shows: its points, each with its intervals and the words it reads as, and
what the chart says around them."""

from __future__ import annotations

from dataclasses import dataclass

from ftbench.display import compact_number


@dataclass(frozen=True)
class Point:
    """One model on a chart."""

    cost: float
    """x value."""
    quality: float
    """y value, as displayed (percent for ratio metrics)."""
    label: str
    """Model name (contributor text: escaped when drawn)."""
    href: str
    """Relative link to the model page."""
    front: bool
    """On the Pareto front: drawn filled and joined by the front line."""
    flagged: bool = False
    """Its figures are flagged or from another hardware profile: drawn as a hollow diamond,
    never on the front."""
    quality_interval: tuple[float, float] | None = None
    """95% confidence interval of ``quality``, on its scale: the vertical bar."""
    cost_interval: tuple[float, float] | None = None
    """Measured range of ``cost``: the horizontal bar."""
    quality_text: str = ""
    """``quality`` as read, with its unit (``84.8%``); the bare number when empty."""
    quality_interval_text: str = ""
    """Its interval as read (``95% CI 83.1–86.4``); none when empty."""
    cost_text: str = ""
    """``cost`` as read, with its unit (``5.0 ms``); the compact number when empty."""
    cost_interval_text: str = ""
    """Its range as read (``range 4.9–5.2``); none when empty."""

    @property
    def kind(self) -> str:
        """How it is drawn: ``front``, ``flagged`` or ``other``."""
        return "front" if self.front else "flagged" if self.flagged else "other"


@dataclass(frozen=True)
class Reference:
    """A quality every entry should beat (the majority class): a dashed line where in range."""

    label: str
    """Its name (``Majority class``)."""
    value: float
    """On the quality axis's scale."""
    text: str
    """The value as read (``50.9%``)."""


@dataclass(frozen=True)
class Chart:
    """What a chart says, apart from its points."""

    chart_id: str
    """Unique on the page; the ids of the figure's parts start with it."""
    title: str
    """Shown above the chart and naming it (``Accuracy against batch-1 latency``)."""
    x_title: str
    """Cost axis title, with the unit (``Latency, batch 1, median (ms)``)."""
    y_title: str
    """Quality axis title, with the unit and the direction (``Accuracy (%, higher is better)``)."""
    quality_name: str
    """The quality in a sentence (``Accuracy``)."""
    cost_name: str
    """The cost in a sentence, after its value (``5.0 ms batch-1 latency``)."""
    reference: Reference | None = None
    """The line to draw across, if any."""
    y_limits: tuple[float, float] | None = None
    """Bounds the quality axis never passes (0 to 100 for percentages)."""


def describe(p: Point, chart: Chart) -> str:
    """A point in words (its tooltip, and the sentence that replaces a one-point chart).

    >>> chart = Chart("c", "t", "x", "y", "Accuracy", "batch-1 latency")
    >>> describe(Point(5.02, 84.79, "m", "", False, quality_text="84.8%",
    ...     quality_interval_text="95% CI 83.1–86.4", cost_text="5.02 ms",
    ...     cost_interval_text="range 4.9–5.2"), chart)
    'Accuracy 84.8% (95% CI 83.1–86.4) at 5.02 ms batch-1 latency (range 4.9–5.2)'
    """
    quality = f"{chart.quality_name} {p.quality_text or f'{p.quality:g}'}"
    if p.quality_interval_text:
        quality += f" ({p.quality_interval_text})"
    cost = f"{p.cost_text or compact_number(p.cost)} {chart.cost_name}"
    if p.cost_interval_text:
        cost += f" ({p.cost_interval_text})"
    return f"{quality} at {cost}"


def in_words(name: str) -> str:
    """A name as it reads inside a sentence: ``accuracy``, but ``Macro F1`` keeps its capitals
    after the first letter and ``ECE`` all of them.

    >>> in_words("Accuracy"), in_words("Macro F1"), in_words("ECE")
    ('accuracy', 'macro F1', 'ECE')
    """
    if len(name) > 1 and name[1].isupper():
        return name
    return name[:1].lower() + name[1:]
