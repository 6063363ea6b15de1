"""Keeping what a user said about themselves current: which stored preference or fact a new one replaces.

"I love steak" in January, "I went vegetarian last month, no more meat for me" in June: the June one *changes*
the January one. "Spicy food is a no for me", later "keep the chilli out of everything": a *restatement*. In
both cases the older preference is marked ``superseded`` with a pointer to its successor
(``Memory.superseded_by``; the newer one's ``supersedes`` points back), stays in the store as history, and is
never composed again; forgetting the newer one brings it back. Two preferences that are compatible ("I also like
fish") or unrelated both stay. A fact about the user can replace a preference ("I'm an iPhone person", later
"Switched to a Pixel in the summer"), but a fact is never replaced: it is history, shown with its date beside
the later one. The fact head reads some one-off events as facts, and the relation head took "We went to the lake
with my cousin" to replace "... with my brother", which hid the answer to "who did I go to the lake with in
July?".

The decision comes from the understanding layer, trained on the project's own pairs (``training/pairs/``); no
word list. The relation head (a classifier over the two embeddings and the newer one's words) gates; the pair
reader (the bundled MiniLM reading both texts at once, ``understand/cross.py``) judges the pairs it lets through.
Only pairs that could replace something are read at all (see ``_may_replace``).
Rules kept on top: the later one (by ``created_at``) is the newer, whatever order they were written in; two
memories from one message never replace each other; a memory only inferred never replaces one the user stated or
said; only active memories replace anything; a new memory replaces at most one older one, the likeliest
(the relation head judges pairs, and a user with k preferences gives k pairs per new one: letting every pair
over the threshold count made one new statement replace several unrelated ones in a hand-made ten-preference
history). And the newer must be what it was read as: only a newer one read with certainty at least ``SURE``
replaces anything (``certainty``). On a PrefEval dev slice (explicit, T = 100, 75 records), 4 of the 9 misses
were a request barely read as a preference replacing the user's real one ("tell me the fastest car in the world"
replacing an aversion to ride-sharing, at 0.85).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .embed import Matrix
from .types import Memory, MemoryKind, MemorySource, MemoryStatus
from .understand.local import LocalUnderstander, RelationJudgement

__all__ = ["Replacement", "replacements"]


def _strength(memory: Memory) -> int:
    """Only inferred memories are weaker: they never replace what the user said."""
    return 1 if memory.source is MemorySource.INFERRED else 2


@dataclass(frozen=True)
class Replacement:
    """An older preference replaced by a newer one."""

    older: str
    newer: str
    relation: str
    """``change`` (the user changed their mind) or ``restate`` (said it again)."""
    confidence: float

    def describe(self) -> str:
        how = "the user changed their mind" if self.relation == "change" else "the user said it again"
        return f"superseded by {self.newer}: {how} (confidence {self.confidence:.2f})"


SURE = 0.6
"""Only a memory read with at least this certainty replaces another. Chosen on the training corpus with
leave-one-writer-out preference probabilities: at 0.6, 93.0% of the texts read as preferences are preferences
and 88% of preferences pass (0.5: 90.6% / 0.91; 0.75: 95.4% / 0.82). 0.75 was tried first and kept plain
statements such as "I love steak." (read at 0.70) from replacing anything."""


def certainty(memory: Memory) -> float:
    """How sure the understanding layer is that this memory is what it is stored as (a preference, a fact):
    1.0 for what the app stored through ``remember``."""
    understood = memory.understanding
    if memory.source is MemorySource.STATED or understood is None:
        return 1.0
    key = "fact" if memory.kind is MemoryKind.FACT else "preference"
    return float(understood.confidence.get(key, 1.0))


def _may_replace(newer: Memory, older: Memory) -> bool:
    """Only a preference is replaced (a fact is history: "we went to the lake with my brother" stays true when
    a cousin comes along later), and only by a memory read with certainty at least ``SURE``."""
    return older.kind is MemoryKind.PREFERENCE and certainty(newer) >= SURE


def _usable(memory: Memory) -> bool:
    return memory.kind is not MemoryKind.EPISODE and memory.status is MemoryStatus.ACTIVE


def _order(memory: Memory) -> tuple[float, int, str]:
    """When it was last said: a preference said again is as new as its latest saying."""
    return (memory.updated_at.timestamp(), memory.message_index or 0, memory.id)


def replacements(
    new: Sequence[tuple[Memory, Matrix]],
    stored: Sequence[tuple[Memory, Matrix]],
    understander: LocalUnderstander,
    *,
    threshold: float,
) -> list[Replacement]:
    """Which preferences the ``new`` ones replace among themselves and the ``stored`` ones (vectors from the
    understander's embedder, unit norm). A newer one replaces an older one when the relation head's
    probability that it changes or restates it is at least ``threshold`` and the newer is read as a preference
    or fact with certainty at least ``SURE``. Each memory is replaced once."""
    ordered = sorted(((m, v) for m, v in new if _usable(m)), key=lambda mv: _order(mv[0]))
    # every pair that could be read, judged in one call: each new memory against the stored preferences and the
    # new preferences before it. The newer must be what it was read as: a request misread as a preference
    # replaces nothing, so only the pairs that could replace something are read.
    plan: list[tuple[int, Memory, Matrix, bool]] = []  # (new memory, other, its vector, other is older)
    pool: list[tuple[Memory, Matrix]] = [(m, v) for m, v in stored if _usable(m)]
    for index, (memory, vector) in enumerate(ordered):
        for other, other_vector in pool:
            first = _order(other) <= _order(memory)
            if other.id != memory.id and _may_replace(memory if first else other, other if first else memory):
                plan.append((index, other, other_vector, first))
        if memory.kind is MemoryKind.PREFERENCE:  # a fact is never replaced: no need to read later ones against it
            pool.append((memory, vector))
    options: dict[int, list[tuple[Memory, bool, RelationJudgement]]] = {}
    if plan:
        older = np.stack([v if first else ordered[i][1] for i, _, v, first in plan])
        newer = np.stack([ordered[i][1] if first else v for i, _, v, first in plan])
        older_texts = [m.text if first else ordered[i][0].text for i, m, _, first in plan]
        newer_texts = [ordered[i][0].text if first else m.text for i, m, _, first in plan]
        judged = understander.relate(older, newer, older_texts, newer_texts, groups=[i for i, *_ in plan])
        for (index, other, _, first), judgement in zip(plan, judged):
            options.setdefault(index, []).append((other, first, judgement))
    replaced: dict[str, Replacement] = {}
    for index, (memory, _) in enumerate(ordered):
        if memory.id in replaced:
            continue
        ranked = sorted(
            ((o, first, j) for o, first, j in options.get(index, []) if o.id not in replaced),
            key=lambda o: -o[2].supersedes,
        )
        for other, first, judgement in ranked[:1]:  # a change of mind is about one earlier statement
            score = judgement.supersedes
            if score < threshold:
                continue
            old, fresh = (other, memory) if first else (memory, other)
            if (old.updated_at, old.message_index) == (fresh.updated_at, fresh.message_index):
                continue  # one message never replaces itself
            if _strength(fresh) < _strength(old):
                continue
            if old.id in replaced:
                continue
            how = judgement.relation if judgement.relation in ("change", "restate") else "change"
            replaced[old.id] = Replacement(old.id, fresh.id, how, round(score, 3))
    return list(replaced.values())
