"""Which stated preferences a newer one replaces: "I love spicy food", later "I can't stand spicy food
anymore".

Nothing is deleted or rewritten: ``supersessions`` is applied when a prompt is composed, so the older
memory stays in the store (and in ``memories()``), shows in the trace as ``superseded`` with the id of
the memory that replaced it, and comes back by itself if the newer one is forgotten.

A newer preference replaces an older one of the same user when

- it says the user changed ("anymore", "no longer", "used to", "I've stopped", "switched to", a closing
  "now", ..., but not with "also" or "too", which add rather than replace) and the two are about the same
  thing (cosine similarity at least ``CHANGED_SIMILARITY``), or
- it restates the older one almost word for word in meaning (cosine at least ``RESTATED_SIMILARITY``);

and it is stated at least as firmly (an inferred preference never replaces an explicit one).

Why not "opposite stance on the same subject": measured on PrefEval's 743 stated preferences, a rule
reading stance from negation words found 511 contradicting pairs, and all 8 we read were wrong ("I have
a strong aversion to gamified learning" vs "I strongly dislike gamified learning approaches"), and it
cost the crowded variant 6 points. People who change their mind usually say so; without such words
both preferences stay in the prompt. A looser word list ("now" anywhere, "lately", "quit") at similarity
0.55 replaced 24 statements in LoCoMo's six dev conversations; of the 17 we read none was a change of mind ("I won't quit on my
dreams" by "I won't quit."); this one replaces 3. Thresholds set on hand-made pairs with
all-MiniLM-L6-v2 ("I love spicy food" / "I can't stand spicy food anymore": 0.77; "I'm vegetarian" /
"I'm vegan now": 0.78; missed on purpose: "I drink coffee every morning" / "I've quit coffee": 0.60);
another embedder may want others: set them on ``SelectionConfig``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .embed import Matrix
from .types import Memory, Tier

__all__ = ["CHANGED_SIMILARITY", "RESTATED_SIMILARITY", "Supersession", "says_changed", "supersessions"]

CHANGED_SIMILARITY = 0.65
RESTATED_SIMILARITY = 0.95

_CHANGED = re.compile(
    r"\b(?:any\s*more|no\s+longer|any\s+longer|changed\s+my\s+mind|used\s+to|gave\s+up|given\s+up|"
    r"from\s+now\s+on|switched\s+(?:to|from)|i(?:'ve|\s+have)?\s+(?:quit|stopped))\b"
    r"|\bnow\s*[.!]*\s*$",  # "I'm vegan now", not "now I'm ready to ..."
    re.IGNORECASE,
)
_ADDED = re.compile(r"\b(?:also|too|as\s+well|another|in\s+addition)\b", re.IGNORECASE)
_TIER_STRENGTH = {Tier.EXPLICIT: 2, Tier.INFERRED: 1, Tier.EPISODE: 0}


@dataclass(frozen=True)
class Supersession:
    """One preference replaced by a newer one."""

    by: str
    """Id of the newer memory that replaces it."""
    similarity: float
    changed: bool
    """True when the newer says the user changed; False when it restates the older."""

    def describe(self) -> str:
        """Why, in words, for the trace."""
        how = "says the user changed" if self.changed else "restates it"
        return f"superseded by the newer {self.by}, which {how} (similarity {self.similarity:.3f})"


@functools.lru_cache(maxsize=4096)
def says_changed(text: str) -> bool:
    """Whether a preference says the user changed ("I don't eat meat anymore", "I'm vegan now")."""
    return _CHANGED.search(text) is not None and _ADDED.search(text) is None


def supersessions(
    memories: Sequence[Memory],
    vectors: Matrix,
    *,
    changed: float = CHANGED_SIMILARITY,
    restated: float = RESTATED_SIMILARITY,
) -> dict[str, Supersession]:
    """For the preferences and facts among ``memories`` (rows of ``vectors``, unit norm), map the id of
    each one that a newer one replaces to the newest that replaces it. Two memories taken from one
    message never replace each other."""
    rows = [i for i, m in enumerate(memories) if m.tier is not Tier.EPISODE]
    if len(rows) < 2:
        return {}
    rows.sort(key=lambda i: (memories[i].created_at, memories[i].message_index or 0, memories[i].id))
    chosen = np.asarray(vectors, dtype=np.float32)[rows]
    changes = np.array([says_changed(memories[i].text) for i in rows], dtype=bool)
    similarity = chosen @ chosen.T
    # Only pairs (older, newer) over their threshold can supersede: find them all at once. Column j is the
    # newer memory of the pair, so its own wording picks the threshold.
    close = np.triu(similarity >= np.where(changes[None, :], changed, restated), k=1)
    replaced: dict[str, Supersession] = {}
    if not close.any():
        return replaced
    older_rows, newer_rows = np.nonzero(close)
    pairs = sorted(zip(newer_rows.tolist(), older_rows.tolist()), key=lambda p: (-p[0], p[1]))
    for newer, older in pairs:  # newest first, so each older one maps to its newest successor
        new_memory, old_memory = memories[rows[newer]], memories[rows[older]]
        if new_memory.id in replaced or old_memory.id in replaced:
            continue  # a replaced memory replaces nothing, and is replaced once
        if (old_memory.created_at, old_memory.message_index) == (new_memory.created_at, new_memory.message_index):
            continue
        if _TIER_STRENGTH[new_memory.tier] < _TIER_STRENGTH[old_memory.tier]:
            continue
        replaced[old_memory.id] = Supersession(
            by=new_memory.id, similarity=float(similarity[newer, older]), changed=bool(changes[newer])
        )
    return replaced
