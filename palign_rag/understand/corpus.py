"""Reading labelled understanding data (the format of ``training/LABELS.md``), for training and for
``palign eval understanding``."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from .labels import ALWAYS_SUBJECTS, CONFLICTS, RELATIONS, SUBJECTS

__all__ = [
    "LABEL_NAMES",
    "LabelledPair",
    "LabelledText",
    "pair_fold",
    "read_labelled",
    "read_pairs",
    "relation_pairs",
    "request_pairs",
]

LABEL_NAMES = ("preference", "scope", "subject", "stance", "instruction", "conflict", "fact")
_ALLOWED: dict[str, tuple[object, ...]] = {
    "preference": (True, False),
    "scope": ("always", "topical", None),
    "subject": (*SUBJECTS, None),
    "stance": ("positive", "negative", None),
    "instruction": (True, False),
    "conflict": (*CONFLICTS, None),
    "fact": (True, False),
}


@dataclass(frozen=True)
class LabelledText:
    """One labelled text; ``labels`` holds only the labels given in the file."""

    text: str
    labels: dict[str, Any]
    origin: str = ""
    """``file:line`` it was read from."""


@dataclass(frozen=True)
class LabelledPair:
    """An older and a newer preference of one user and how they relate."""

    older: str
    newer: str
    relation: str
    subject: str | None = None
    origin: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _lines(paths: Iterable[str | Path]) -> Iterable[tuple[str, int, Any]]:
    files = [Path(p).expanduser() for p in paths]
    if not files:
        raise InvalidInputError("No labelled files given: pass one or more .jsonl files.")
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                yield str(path), number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{path}:{number} is not valid JSON ({exc.msg}).") from None


def read_labelled(paths: Iterable[str | Path]) -> list[LabelledText]:
    """Labelled texts from JSONL files: ``{"text": ..., "labels": {...}}`` a line (see ``training/LABELS.md``).

    Raises ``InvalidInputError`` naming the file and line of the first malformed item.
    """
    items = []
    for path, number, raw in _lines(paths):
        where = f"{path}:{number}"
        if not isinstance(raw, dict) or not isinstance(raw.get("text"), str) or not isinstance(raw.get("labels"), dict):
            raise InvalidInputError(f'{where}: each line must be {{"text": "...", "labels": {{...}}}}.')
        labels = raw["labels"]
        for name, value in labels.items():
            if name not in _ALLOWED:
                raise InvalidInputError(f"{where}: unknown label {name!r}; labels are {', '.join(LABEL_NAMES)}.")
            if value not in _ALLOWED[name]:
                raise InvalidInputError(f"{where}: {name}={value!r} is not one of {list(_ALLOWED[name])}.")
        items.append(LabelledText(raw["text"], dict(labels), where))
    return items


def read_pairs(paths: Iterable[str | Path]) -> list[LabelledPair]:
    """Labelled preference pairs: ``{"older": ..., "newer": ..., "relation": ...}`` a line."""
    pairs = []
    for path, number, raw in _lines(paths):
        where = f"{path}:{number}"
        if not isinstance(raw, dict) or raw.get("relation") not in RELATIONS:
            raise InvalidInputError(f"{where}: each line needs older, newer and a relation in {list(RELATIONS)}.")
        pairs.append(
            LabelledPair(str(raw["older"]), str(raw["newer"]), str(raw["relation"]), raw.get("subject"), where)
        )
    return pairs


def relation_pairs(pairs: list[LabelledPair], items: list[LabelledText]) -> list[LabelledPair]:
    """What the relation readers train on: ``pairs``, then each in the other order, then half as many unrelated
    pairs of preferences on different subjects drawn from ``items``, then a third as many pairs of a preference
    and a text on its subject that states nothing (``request_pairs``). Seeded, so every training script draws the
    same ones in the same order."""
    rng = random.Random(7)
    preferences = [i for i in items if i.labels.get("preference") and i.labels.get("subject")]
    drawn: list[LabelledPair] = []
    while preferences and len(drawn) < len(pairs) // 2:
        a, b = rng.sample(preferences, 2)
        if a.labels["subject"] != b.labels["subject"] and not (
            a.labels["subject"] in ALWAYS_SUBJECTS and b.labels["subject"] in ALWAYS_SUBJECTS
        ):
            drawn.append(LabelledPair(a.text, b.text, "unrelated", origin="corpus"))
    reverse = [LabelledPair(p.newer, p.older, p.relation, origin=p.origin) for p in pairs]
    return pairs + reverse + drawn + request_pairs(items, len(pairs) // 3)


def request_pairs(items: list[LabelledText], count: int) -> list[LabelledPair]:
    """A preference, then a text on the same subject that states nothing standing (a one-off request, a
    question, a passing remark) from ``items``: both hold, nothing is replaced. A request misread as a
    preference must not replace the user's real one ("I follow a vegan diet", later a request to make pork
    sausages, was read as a restatement on a PrefEval dev slice)."""
    rng = random.Random(11)
    by_subject: dict[str, list[LabelledText]] = {}
    for item in items:
        labels = item.labels
        if labels.get("subject") and not any(labels.get(k) for k in ("preference", "instruction", "fact")):
            by_subject.setdefault(labels["subject"], []).append(item)
    preferences = [i for i in items if i.labels.get("preference") and i.labels.get("subject") in by_subject]
    drawn: list[LabelledPair] = []
    while preferences and len(drawn) < count:
        preference = rng.choice(preferences)
        request = rng.choice(by_subject[preference.labels["subject"]])
        drawn.append(LabelledPair(preference.text, request.text, "compatible", origin="request"))
    return drawn


def pair_fold(pair: LabelledPair, folds: int = 5) -> int:
    """The fold of a pair, by its texts: a pair and its reverse always share one."""
    return int(hashlib.sha256(min(pair.older, pair.newer).encode()).hexdigest(), 16) % folds
