"""Time cues in a query: "in June 2023", "on 7 May", "last week", "two months ago", "recently".

``find_time_cue`` reads the narrowest time expression in a question and returns a ``TimeCue``: a
window of time (or, for a month named without a year, that month in any year; or, for "recently" and
its kin, the user's latest memories). ``TimeCue.match`` scores memory timestamps against it: 1.0 inside
the window, decaying exponentially with the distance outside it, so that a memory written a few days
after the event it tells of still counts. The rules are about English time expressions only; they
know nothing of any data set.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import numpy.typing as npt

__all__ = ["TimeCue", "find_time_cue"]

_DAY = 86400.0
DAY_TOLERANCE = 2.0
"""Days outside a named day at which a memory's match falls to 1/e: the day asked about clearly beats its
neighbours, and a memory written a few days after still counts (LoCoMo dev recall@5 was the same at 1 to
3 days, 0.001 lower at 7)."""
_MONTHS = {name.lower(): index for index, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): index for index, name in enumerate(calendar.month_abbr) if name})
_MONTHS.pop("may", None)
_MONTH_WORDS = "|".join(sorted(_MONTHS, key=len, reverse=True))
# "may" is a verb far more often than a month: it counts only capitalised, and only before a number or
# after a word such as "in" or "early".
_MONTH = rf"(?:(?i:{_MONTH_WORDS})\.?|May(?=\s*\d))"
_MONTH_AFTER_WORD = rf"(?:(?i:{_MONTH_WORDS})\.?|May)"
_ORDINAL = r"(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d\d"
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "couple of": 2, "few": 3,
}  # fmt: skip
_SEASONS = {"spring": (3, 3), "summer": (6, 3), "autumn": (9, 3), "fall": (9, 3), "winter": (12, 3)}
_UNITS = {"day": 1.0, "week": 7.0, "weekend": 7.0, "month": 30.44, "year": 365.25}

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(rf"\b(?P<year>{_YEAR})-(?P<month>\d{{1,2}})-(?P<day>\d{{1,2}})\b")),
    (
        "day_month",
        re.compile(rf"\b(?P<day>\d{{1,2}}){_ORDINAL}\s+(?:of\s+)?(?P<month>{_MONTH})(?:,?\s+(?P<year>{_YEAR}))?\b"),
    ),
    (
        "month_day",
        re.compile(
            rf"\b(?P<month>{_MONTH})\s+(?P<day>\d{{1,2}}){_ORDINAL}(?:,?\s+(?P<year>{_YEAR}))?\b(?!\s*(?:[:%]|am|pm))"
        ),
    ),
    ("month_year", re.compile(rf"\b(?P<month>{_MONTH}),?\s+(?:of\s+)?(?P<year>{_YEAR})\b")),
    (
        "season",
        re.compile(
            rf"\b(?:(?P<rel>last|this|next|past)\s+)?(?P<season>spring|summer|autumn|fall|winter)"
            rf"(?:\s+(?:of\s+)?(?P<year>{_YEAR}))?\b",
            re.IGNORECASE,
        ),
    ),
    (
        "month",
        re.compile(
            rf"\b(?i:in|during|of|since|until|before|after|early|late|mid|last|this|next)[\s-]+(?P<month>{_MONTH_AFTER_WORD})\b"
        ),
    ),
    (
        "year",
        re.compile(rf"\b(?:in|during|of|since|until|by|before|after|from|early|late|mid)[\s-]+(?P<year>{_YEAR})\b"),
    ),
    (
        "ago",
        re.compile(
            r"\b(?P<count>\d{1,3}|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|couple of|few)"
            r"\s+(?P<unit>day|week|month|year)s?\s+ago\b",
            re.IGNORECASE,
        ),
    ),
    (
        "relative",
        re.compile(r"\b(?P<rel>last|this|past|previous|next)\s+(?P<unit>week|weekend|month|year)\b", re.IGNORECASE),
    ),
    ("yesterday", re.compile(r"\b(?:the\s+day\s+before\s+)?yesterday\b", re.IGNORECASE)),
    ("today", re.compile(r"\b(?:today|tonight|this\s+morning|this\s+evening)\b", re.IGNORECASE)),
    ("recent", re.compile(r"\b(?:recently|lately|most\s+recent(?:ly)?|these\s+days|nowadays)\b", re.IGNORECASE)),
]
_BEFORE = re.compile(r"\b(?:before|until|prior\s+to|by)\s*$", re.IGNORECASE)
_AFTER = re.compile(r"\b(?:after|since|following)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class TimeCue:
    """A time expression found in a query and the stretch of time it points at.

    Exactly one of three shapes: an absolute window (``start``/``end``), a month of any year
    (``month``, when the question names a month without a year), or ``recent`` (the user's latest
    memories, whatever the date).
    """

    phrase: str
    """The words of the query the cue was read from."""
    start: datetime | None = None
    end: datetime | None = None
    month: int | None = None
    recent: bool = False
    tolerance_days: float = 7.0
    """Distance outside the window at which a memory's match has fallen to 1/e."""

    def describe(self) -> str:
        """A short human-readable form, for traces."""
        if self.recent:
            return f"{self.phrase!r}: the user's latest memories"
        if self.month is not None:
            return f"{self.phrase!r}: {calendar.month_name[self.month]} of any year"
        assert self.start is not None and self.end is not None
        return f"{self.phrase!r}: {self.start:%Y-%m-%d} to {(self.end - timedelta(seconds=1)):%Y-%m-%d}"

    def match(self, timestamps: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """How well each POSIX timestamp fits the cue, from 0.0 to 1.0 (1.0 inside the window)."""
        times = np.asarray(timestamps, dtype=np.float64)
        if times.size == 0:
            return np.zeros(0)
        scale = self.tolerance_days * _DAY
        if self.recent:
            newest = float(times.max())
            return np.asarray(np.exp(-(newest - times) / scale), dtype=np.float64)
        if self.month is not None:
            distance = _month_distance(times, self.month)
        else:
            assert self.start is not None and self.end is not None
            start, end = self.start.timestamp(), self.end.timestamp()
            distance = np.maximum(np.maximum(start - times, times - end), 0.0)
        return np.exp(-distance / scale)


def _month_distance(times: npt.NDArray[np.float64], month: int) -> npt.NDArray[np.float64]:
    """Seconds from each timestamp to the nearest stretch of ``month`` in any year (0 inside one)."""
    seconds = times.astype("datetime64[s]")
    years = seconds.astype("datetime64[Y]").astype(np.int64)  # years since 1970
    best = np.full(times.shape, np.inf)
    for shift in (-1, 0, 1):
        first = ((years + shift) * 12 + (month - 1)).astype("datetime64[M]")
        start = first.astype("datetime64[s]").astype(np.float64)
        end = (first + 1).astype("datetime64[s]").astype(np.float64)
        distance = np.maximum(np.maximum(start - times, times - end), 0.0)
        best = np.minimum(best, distance)
    return best


def _month_index(word: str) -> int:
    return _MONTHS.get(word.lower().rstrip("."), 5)  # only "May" is missing from the table


def _months(year: int, first: int, count: int = 1) -> tuple[datetime, datetime]:
    """From the start of month ``first`` of ``year`` to the start of the month ``count`` months later."""
    end_year, end_month = divmod(first - 1 + count, 12)
    start = datetime(year, first, 1, tzinfo=timezone.utc)
    return start, datetime(year + end_year, end_month + 1, 1, tzinfo=timezone.utc)


def _count(word: str) -> int:
    word = word.lower()
    return int(word) if word.isdigit() else _NUMBER_WORDS.get(word, 1)


def _window(kind: str, found: re.Match[str], now: datetime) -> TimeCue | None:
    """The cue for one match, or None when its numbers are not a real date."""
    groups = found.groupdict()
    phrase = found.group(0)
    today = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        if kind in ("iso", "day_month", "month_day"):
            month = int(groups["month"]) if kind == "iso" else _month_index(groups["month"])
            day = int(groups["day"])
            if groups.get("year"):
                start = datetime(int(groups["year"]), month, day, tzinfo=timezone.utc)
                return TimeCue(phrase, start=start, end=start + timedelta(days=1), tolerance_days=DAY_TOLERANCE)
            datetime(2000, month, day)  # a real day of that month (2000 is a leap year)
            return TimeCue(phrase, month=month, tolerance_days=DAY_TOLERANCE)
        if kind == "month_year":
            start, end = _months(int(groups["year"]), _month_index(groups["month"]))
            return TimeCue(phrase, start=start, end=end, tolerance_days=14)
        if kind == "month":
            return TimeCue(phrase, month=_month_index(groups["month"]), tolerance_days=14)
        if kind == "season":
            first, length = _SEASONS[groups["season"].lower()]
            if groups.get("year"):
                start, end = _months(int(groups["year"]), first, length)
            elif groups.get("rel"):
                relation = groups["rel"].lower()
                seasons = [_months(year, first, length) for year in range(today.year - 2, today.year + 2)]
                if relation == "next":
                    return None  # plans: no memory is from the future
                if relation == "this":  # the one under way, else the one of this calendar year
                    start, end = next(
                        ((a, b) for a, b in seasons if a <= today < b), _months(today.year, first, length)
                    )
                else:  # last, past: the latest one already over
                    start, end = [(a, b) for a, b in seasons if b <= today][-1]
            else:
                return None  # "fall", "spring" alone are too often not seasons at all
            return TimeCue(phrase, start=start, end=end, tolerance_days=21)
        if kind == "year":
            year = int(groups["year"])
            start = datetime(year, 1, 1, tzinfo=timezone.utc)
            return TimeCue(phrase, start=start, end=datetime(year + 1, 1, 1, tzinfo=timezone.utc), tolerance_days=30)
    except ValueError:
        return None
    if kind == "ago":
        days = _count(groups["count"]) * _UNITS[groups["unit"].lower()]
        spread = max(days * 0.25, 1.0)
        centre = today - timedelta(days=days)
        return TimeCue(
            phrase,
            start=centre - timedelta(days=spread),
            end=centre + timedelta(days=spread + 1),
            tolerance_days=spread,
        )
    if kind == "relative":
        unit = groups["unit"].lower()
        relation = groups["rel"].lower()
        days = _UNITS[unit]
        if relation == "this":
            start = today - timedelta(days=days)
            end = today + timedelta(days=1)
        elif relation == "next":
            return None  # plans: no memory is from the future
        else:  # last, past, previous
            start = today - timedelta(days=2 * days if unit != "weekend" else 8)
            end = (
                today + timedelta(days=1)
                if relation == "past"
                else today - timedelta(days=days / 7 if unit == "weekend" else 0)
            )
        return TimeCue(phrase, start=start, end=end, tolerance_days=max(days / 4, 2))
    if kind == "yesterday":
        back = 2 if phrase.lower().startswith("the") else 1
        start = today - timedelta(days=back)
        return TimeCue(phrase, start=start, end=start + timedelta(days=1), tolerance_days=2)
    if kind == "today":
        return TimeCue(phrase, start=today, end=today + timedelta(days=1), tolerance_days=1)
    if kind == "recent":
        return TimeCue(phrase, recent=True, tolerance_days=30)
    return None


def _shifted(cue: TimeCue, before: bool) -> TimeCue:
    """The stretch just before (or after) an absolute window: "before May 3, 2023", "since June"."""
    if cue.start is None or cue.end is None:
        return cue
    span = max((cue.end - cue.start).total_seconds() / _DAY, 14.0)
    if before:
        return TimeCue(
            cue.phrase, start=cue.start - timedelta(days=span), end=cue.start, tolerance_days=cue.tolerance_days
        )
    return TimeCue(cue.phrase, start=cue.end, end=cue.end + timedelta(days=span), tolerance_days=cue.tolerance_days)


def find_time_cue(text: str, *, now: datetime | None = None) -> TimeCue | None:
    """The most specific time expression in ``text``, as a ``TimeCue``; None when there is none.

    Relative expressions ("last week", "three days ago") are resolved against ``now`` (default: the
    current time). A date preceded by "before" or "after" points at the stretch on that side of it.
    Expressions about the future only ("next month", "in 2030") are no cue: they speak of plans, and no
    memory was written then.
    """
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    for kind, pattern in _PATTERNS:  # most specific first
        for found in pattern.finditer(text):
            cue = _window(kind, found, now)
            if cue is None or (cue.start is not None and cue.start >= now):
                continue  # not a time, or only the future ("next month", "in 2030"): no memory is from then
            prefix = text[: found.start()]
            if _BEFORE.search(prefix):
                return _shifted(cue, before=True)
            if _AFTER.search(prefix):
                return _shifted(cue, before=False)
            return cue
    return None
