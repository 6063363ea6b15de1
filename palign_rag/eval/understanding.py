"""``palign eval understanding``: how well the understanding layer reads labelled texts.

The labels are those of ``training/LABELS.md`` (read with ``palign_rag.understand.corpus.read_labelled``);
each item may carry any of them, and only the labels present are scored. Every figure comes with ``of``,
the number of items it is computed over (its denominator); a figure over no item is ``None``.

- ``preference``: precision, recall and F1 of "is a preference" (items with a ``preference`` label).
- ``scope``: accuracy of ``always`` / ``topical`` (the layer's ``applies``) over items labelled with a scope,
  that is labelled preferences. A preference the layer missed has no ``applies`` and counts as wrong: the
  figure is what a user gets end to end; ``accuracy_among_found`` is the same over the labelled preferences
  the layer found (the scope head on its own).
- ``subject``: accuracy over items with a ``subject`` label, ``null`` included ("no clear subject" is a
  label too).
- ``stance``: accuracy over labelled preferences with a stance (a missed preference counts as wrong), and
  ``accuracy_among_found`` as for scope.
- ``instruction``: recall over items labelled ``true``, false-positive rate over items labelled ``false``,
  precision over the items the layer flags.
- ``conflict``: recall of "asks to drop a value" (any category) over items labelled with a conflict;
  false-positive rate over labelled preferences labelled ``conflict: null``; accuracy of the category over
  the labelled conflicts the layer detected.
- ``fact``: precision, recall and F1 of "states a standing fact about the user" over the items with a
  ``fact`` label (texts that are neither preferences nor instruction-like; one the layer reads as a
  preference counts as missed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import RuntimeFailure
from ..understand.corpus import LabelledText
from ..understand.labels import Understanding

__all__ = ["F1", "Figure", "ReadsTexts", "UnderstandingResult", "evaluate_understanding"]

BATCH = 256


class ReadsTexts(Protocol):
    """What is evaluated: anything that reads texts into ``Understanding`` decisions, exactly one per text, in
    order (``LocalUnderstander``, ``LLMUnderstander``, or a fake in tests). It gets no vectors: it embeds with
    its own model."""

    def understand(self, texts: Sequence[str]) -> list[Understanding]: ...


@dataclass(frozen=True)
class Figure:
    """A share: ``hits`` out of ``of`` items; ``value`` is ``None`` when there is no item to score."""

    hits: int
    of: int

    @property
    def value(self) -> float | None:
        return self.hits / self.of if self.of else None

    def as_dict(self) -> dict[str, float | int | None]:
        return _as_dict(self.value, self.of)


@dataclass(frozen=True)
class F1:
    """The harmonic mean of a precision and a recall (0 when both are 0); ``of`` is the number of items scored."""

    precision: Figure
    recall: Figure
    of: int

    @property
    def value(self) -> float | None:
        p, r = self.precision.value, self.recall.value
        if p is None or r is None:
            return None
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    def as_dict(self) -> dict[str, float | int | None]:
        return _as_dict(self.value, self.of)


def _as_dict(value: float | None, of: int) -> dict[str, float | int | None]:
    return {"value": None if value is None else round(value, 4), "of": of}


@dataclass
class UnderstandingResult:
    """For each label present: the number of items carrying it, and its figures by name."""

    items: int
    labelled: dict[str, int] = field(default_factory=dict)
    figures: dict[str, dict[str, Figure | F1]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "items": self.items,
            "labels": {
                label: {"items": self.labelled[label], **{name: f.as_dict() for name, f in figures.items()}}
                for label, figures in self.figures.items()
            },
        }


@dataclass(frozen=True)
class _Scored:
    """One labelled item and what the understander decided about it."""

    labels: dict[str, object]
    got: Understanding


Rule = Callable[[_Scored], bool]


def _share(scored: Sequence[_Scored], among: Rule, hit: Rule) -> Figure:
    kept = [s for s in scored if among(s)]
    return Figure(sum(1 for s in kept if hit(s)), len(kept))


def _detection(label: str) -> Callable[[Sequence[_Scored]], dict[str, Figure | F1]]:
    """Precision, recall and F1 of a yes/no decision (``preference``, ``fact``) against its label."""

    def score(scored: Sequence[_Scored]) -> dict[str, Figure | F1]:
        def said(s: _Scored) -> bool:
            return bool(getattr(s.got, label))

        def labelled(s: _Scored) -> bool:
            return s.labels[label] is True

        precision, recall = _share(scored, said, labelled), _share(scored, labelled, said)
        return {"precision": precision, "recall": recall, "f1": F1(precision, recall, len(scored))}

    return score


def _instruction(scored: Sequence[_Scored]) -> dict[str, Figure | F1]:
    def flagged(s: _Scored) -> bool:
        return s.got.instruction

    def labelled(s: _Scored) -> bool:
        return s.labels["instruction"] is True

    return {
        "recall": _share(scored, labelled, flagged),
        "false_positive_rate": _share(scored, lambda s: s.labels["instruction"] is False, flagged),
        "precision": _share(scored, flagged, labelled),
    }


def _conflict(scored: Sequence[_Scored]) -> dict[str, Figure | F1]:
    def detected(s: _Scored) -> bool:
        return s.got.conflict is not None

    def labelled(s: _Scored) -> bool:
        return s.labels["conflict"] is not None

    def plain_preference(s: _Scored) -> bool:
        return s.labels.get("preference") is True and s.labels["conflict"] is None

    return {
        "recall": _share(scored, labelled, detected),
        "false_positive_rate": _share(scored, plain_preference, detected),
        "category_accuracy": _share(
            scored, lambda s: labelled(s) and detected(s), lambda s: s.got.conflict == s.labels["conflict"]
        ),
    }


def _accuracy(
    label: str, decided: Callable[[Understanding], object]
) -> Callable[[Sequence[_Scored]], dict[str, Figure | F1]]:
    def score(scored: Sequence[_Scored]) -> dict[str, Figure | F1]:
        right = lambda s: decided(s.got) == s.labels[label]  # noqa: E731
        figures: dict[str, Figure | F1] = {"accuracy": _share(scored, lambda _: True, right)}
        if label in ("scope", "stance"):  # the head on its own: among the labelled preferences the layer found
            figures["accuracy_among_found"] = _share(scored, lambda s: s.got.preference, right)
        return figures

    return score


# label -> (whether a null value is scored, the figures). scope and stance are set for preferences only, so
# their non-null values are the labelled preferences; a null subject means "no clear subject" and is scored.
_LABELS: dict[str, tuple[bool, Callable[[Sequence[_Scored]], dict[str, Figure | F1]]]] = {
    "preference": (True, _detection("preference")),
    "scope": (False, _accuracy("scope", lambda got: got.applies)),
    "subject": (True, _accuracy("subject", lambda got: got.subject)),
    "stance": (False, _accuracy("stance", lambda got: got.stance)),
    "instruction": (True, _instruction),
    "conflict": (True, _conflict),
    "fact": (True, _detection("fact")),
}


def _decide(understander: ReadsTexts, texts: Sequence[str]) -> list[Understanding]:
    decisions: list[Understanding] = []
    for start in range(0, len(texts), BATCH):
        batch = list(texts[start : start + BATCH])
        got = understander.understand(batch)
        if len(got) != len(batch):
            raise RuntimeFailure(
                f"The understander returned {len(got)} decisions for {len(batch)} texts: it must return exactly "
                "one Understanding per text, in order."
            )
        decisions.extend(got)
    return decisions


def evaluate_understanding(understander: ReadsTexts, items: Sequence[LabelledText]) -> UnderstandingResult:
    """Read every item's text with ``understander`` and score its decisions against the labels present
    (each figure is defined in the module docstring)."""
    decisions = _decide(understander, [item.text for item in items])
    scored = [_Scored(dict(item.labels), got) for item, got in zip(items, decisions)]
    result = UnderstandingResult(items=len(items))
    for label, (null_scored, figures) in _LABELS.items():
        subset = [s for s in scored if label in s.labels and (null_scored or s.labels[label] is not None)]
        if subset:
            result.labelled[label] = len(subset)
            result.figures[label] = figures(subset)
    return result
