"""Accessible SVG charts computed on the server: pure geometry, rendered by a template.

No chart library: a few lines of arithmetic give small, fast, CSP-friendly SVG that screen
readers can skip in favour of the text summary and the data table behind each chart.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.web.formats import format_datetime

# Sized for a phone: 400 units across keeps 12-unit labels readable at 360 px.
WIDTH, HEIGHT = 400, 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 36, 20, 12, 28


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    when: datetime
    value: float


@dataclass(frozen=True)
class Series:
    key: str  # also the CSS class: series-<key>
    label: str
    points: tuple[Point, ...]

    @property
    def path(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True)
class BandRect:
    y: float
    height: float
    key: str
    label: str


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    summary: str
    unit: str
    series: tuple[Series, ...]
    y_ticks: tuple[tuple[float, str], ...]
    x_ticks: tuple[tuple[float, str], ...]
    bands: tuple[BandRect, ...] = ()
    markers: tuple[float, ...] = ()  # x positions of dose days
    rows: tuple[tuple[str, ...], ...] = field(default_factory=tuple)
    columns: tuple[str, ...] = ()
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def empty(self) -> bool:
        return not any(s.points for s in self.series)


class Scale:
    def __init__(self, start: datetime, end: datetime, y_min: float, y_max: float) -> None:
        self.start, self.end = start, end
        self.y_min, self.y_max = y_min, y_max

    def x(self, when: datetime) -> float:
        span = (self.end - self.start).total_seconds() or 1.0
        share = (when - self.start).total_seconds() / span
        return PAD_LEFT + max(0.0, min(1.0, share)) * (WIDTH - PAD_LEFT - PAD_RIGHT)

    def y(self, value: float) -> float:
        span = (self.y_max - self.y_min) or 1.0
        share = (value - self.y_min) / span
        return HEIGHT - PAD_BOTTOM - max(0.0, min(1.0, share)) * (HEIGHT - PAD_TOP - PAD_BOTTOM)


def _x_ticks(scale: Scale, tz: ZoneInfo, count: int = 5) -> tuple[tuple[float, str], ...]:
    span = scale.end - scale.start
    ticks = []
    for i in range(count):
        when = scale.start + span * (i / (count - 1))
        ticks.append((scale.x(when), format_datetime(when.astimezone(tz), "date")))
    return tuple(ticks)


def _y_ticks(scale: Scale, step: float) -> tuple[tuple[float, str], ...]:
    ticks = []
    value = scale.y_min
    while value <= scale.y_max + 1e-9:
        ticks.append((scale.y(value), f"{value:g}"))
        value += step
    return tuple(ticks)


def time_chart(
    *,
    key: str,
    title: str,
    unit: str,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    y_min: float,
    y_max: float,
    y_step: float,
    series: list[tuple[str, str, list[tuple[datetime, float]]]],
    bands: list[tuple[float, float, str, str]] | None = None,
    markers: list[datetime] | None = None,
    summary: str,
) -> Chart:
    """A chart of values over [start, end]; `series` is (key, label, [(when, value)])."""
    scale = Scale(start, end, y_min, y_max)
    built = tuple(
        Series(k, label, tuple(Point(scale.x(w), scale.y(v), w, v)
                               for w, v in sorted(data) if start <= w <= end))
        for k, label, data in series
    )
    band_rects = tuple(
        BandRect(scale.y(high), scale.y(low) - scale.y(high), band_key, label)
        for low, high, band_key, label in (bands or [])
    )
    when_values: dict[datetime, dict[str, float]] = {}
    for s in built:
        for p in s.points:
            when_values.setdefault(p.when, {})[s.key] = p.value
    # The table's first column: the year only when the chart spans more than one.
    one_year = start.astimezone(tz).year == end.astimezone(tz).year
    row_format = "short_datetime" if one_year else "datetime_year"
    rows = tuple(
        (format_datetime(when.astimezone(tz), row_format),
         *(f"{values[s.key]:g}" if s.key in values else "" for s in built))
        for when, values in sorted(when_values.items())
    )
    return Chart(
        key=key, title=title, summary=summary, unit=unit, series=built,
        y_ticks=_y_ticks(scale, y_step), x_ticks=_x_ticks(scale, tz), bands=band_rects,
        markers=tuple(scale.x(m) for m in (markers or []) if start <= m <= end),
        rows=rows, columns=tuple(s.label for s in built),
    )


RANGES = {"4w": timedelta(weeks=4), "3m": timedelta(days=91)}


def range_start(key: str, end: datetime, earliest: datetime | None) -> datetime:
    if key in RANGES:
        return end - RANGES[key]
    return min(earliest or end - RANGES["4w"], end - timedelta(days=7))
