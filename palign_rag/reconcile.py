"""Which stated preferences a newer one replaces: "I love spicy food", later "I can't stand spicy food".

Nothing is deleted or rewritten: ``supersessions`` is applied when a prompt is composed, so the older
memory stays in the store (and in ``memories()``), shows in the trace as ``superseded`` with the id of
the memory that replaced it, and comes back by itself if the newer one is forgotten.

Two preferences of one user are taken to be about the same thing when their embeddings are close; the
newer one replaces the older when

- they point opposite ways (one says like, the other dislike, avoid, no longer, ...) and their cosine
  similarity is at least ``OPPOSED_SIMILARITY``, or
- they point the same way and are near restatements (cosine at least ``RESTATED_SIMILARITY``), for
  example "I prefer window seats on flights", later "I prefer aisle seats on flights";

and the newer one is stated at least as firmly (an inferred preference never replaces an explicit one).
The thresholds were set on hand-made pairs with all-MiniLM-L6-v2 ("I love spicy food" vs "I can't stand
spicy food anymore": 0.77; "I like Italian food" vs "I like Japanese food": 0.68, kept apart); a
different embedder may want others: set them on ``SelectionConfig``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .embed import Matrix
from .types import Memory, Tier

__all__ = ["OPPOSED_SIMILARITY", "RESTATED_SIMILARITY", "Supersession", "negative", "supersessions"]

OPPOSED_SIMILARITY = 0.65
RESTATED_SIMILARITY = 0.8

_NEGATIVE = re.compile(
    r"\b(?:not|never|no\s+longer|no\s+more|nothing|none|without|dislike[sd]?|hate[sd]?|avoid(?:s|ed|ing)?|"
    r"stop(?:ped)?|quit|gave\s+up|give\s+up|allergic|intolerant|rather\s+not|anymore|can't\s+stand|"
    r"\w+n't|cannot|can\s+not)\b",
    re.IGNORECASE,
)
_TIER_STRENGTH = {Tier.EXPLICIT: 2, Tier.INFERRED: 1, Tier.EPISODE: 0}


@dataclass(frozen=True)
class Supersession:
    """One preference replaced by a newer one."""

    by: str
    """Id of the newer memory that replaces it."""
    similarity: float
    opposed: bool
    """True when the two point opposite ways; False when the newer restates the older."""

    def describe(self) -> str:
        """Why, in words, for the trace."""
        how = "says the opposite" if self.opposed else "restates it differently"
        return f"superseded by the newer {self.by}, which {how} (similarity {self.similarity:.3f})"


@functools.lru_cache(maxsize=4096)
def negative(text: str) -> bool:
    """Whether a preference is stated negatively ("I don't eat meat", "I avoid flying")."""
    return _NEGATIVE.search(text.replace("\u2019", "'")) is not None


def supersessions(
    memories: Sequence[Memory],
    vectors: Matrix,
    *,
    opposed: float = OPPOSED_SIMILARITY,
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
    signs = np.array([negative(memories[i].text) for i in rows], dtype=bool)
    similarity = chosen @ chosen.T
    opposite = signs[:, None] != signs[None, :]
    # Only pairs (older, newer) over their threshold can supersede: find them all at once.
    close = np.triu(similarity >= np.where(opposite, opposed, restated), k=1)
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
            by=new_memory.id, similarity=float(similarity[newer, older]), opposed=bool(opposite[newer, older])
        )
    return replaced
