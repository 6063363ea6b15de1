"""What the understanding layer decides about a piece of user text, and the names of its labels.

The label vocabulary is defined for people in ``training/LABELS.md``; this module is the same list for code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ALWAYS_SUBJECTS",
    "CONFLICTS",
    "RELATIONS",
    "SUBJECTS",
    "TOPIC_SUBJECTS",
    "Applies",
    "Relation",
    "Stance",
    "Understanding",
]

ALWAYS_SUBJECTS: tuple[str, ...] = (
    "language",
    "length",
    "tone",
    "format",
    "units",
    "accessibility",
    "spelling",
    "style",
)
"""Subjects of preferences about *how to answer*: such a preference applies to every prompt."""

TOPIC_SUBJECTS: tuple[str, ...] = (
    "food_drink",
    "travel",
    "music",
    "film_tv",
    "books",
    "sports_fitness",
    "health",
    "technology",
    "shopping",
    "pets",
    "home_garden",
    "finance",
    "work",
    "education",
    "fashion_beauty",
    "games",
    "hobbies",
    "outdoors",
    "relationships",
    "transport",
)
"""Subjects of topical preferences: such a preference matters when the question touches its subject."""

SUBJECTS: tuple[str, ...] = ALWAYS_SUBJECTS + TOPIC_SUBJECTS
CONFLICTS: tuple[str, ...] = ("honesty", "safety", "privacy")
"""Value categories a preference can ask the assistant to drop; a policy names the principle for each."""
RELATIONS: tuple[str, ...] = ("change", "restate", "compatible", "unrelated")
"""How a newer preference relates to an older one of the same user."""

Applies = Literal["always", "topical"]
Stance = Literal["positive", "negative"]
Relation = Literal["change", "restate", "compatible", "unrelated"]


class Understanding(BaseModel):
    """The decisions about one sentence or turn, each with its confidence (0 to 1), and why.

    ``confidence`` holds one entry per decision made: ``preference``, ``instruction``, and for a
    preference ``applies``, ``subject``, ``stance`` and ``conflict``; each is the probability of the
    label chosen. ``reason`` says in words what was decided and by what (``source``).
    """

    model_config = ConfigDict(frozen=True)

    preference: bool
    instruction: bool = False
    fact: bool = False
    """For a text that is neither a preference nor instruction-like: it states a standing fact about the user
    ("I'm a nurse", "Sold the car last month"), kept as a fact that a later one can replace."""
    applies: Applies | None = None
    subject: str | None = None
    stance: Stance | None = None
    conflict: str | None = None
    """The value category (``honesty``, ``safety``, ``privacy``) the preference asks to drop, if any."""
    confidence: dict[str, float] = Field(default_factory=dict)
    source: str = "local"
    """What decided: ``local`` (the shipped heads) or ``llm:<backend name>``."""

    @property
    def reason(self) -> str:
        """The decisions in words, with their confidences, for the trace and ``palign memories``."""

        def c(name: str) -> str:
            value = self.confidence.get(name)
            return f" ({value:.2f})" if value is not None else ""

        if self.instruction:
            return f"instruction-like text aimed at the model{c('instruction')} [{self.source}]"
        if not self.preference:
            if self.fact:
                about = f", subject {self.subject}{c('subject')}" if self.subject is not None else ""
                return f"a fact about the user{c('fact')}{about} [{self.source}]"
            return f"not a preference{c('preference')} [{self.source}]"
        parts = [f"preference{c('preference')}"]
        if self.applies is not None:
            parts.append(("always-on" if self.applies == "always" else "topical") + c("applies"))
        if self.subject is not None:
            parts.append(f"subject {self.subject}{c('subject')}")
        if self.stance is not None:
            parts.append(f"stance {self.stance}{c('stance')}")
        if self.conflict is not None:
            parts.append(f"asks to drop {self.conflict}{c('conflict')}")
        return ", ".join(parts) + f" [{self.source}]"
