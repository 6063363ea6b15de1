"""Rendering the system prompt from the templates in ``prompts/``, with token counts.

Templates are rendered in Jinja's sandbox. Memory and preference text is only ever passed in as
data and rendered JSON-quoted, so nothing a user wrote can become template source or break out
of its quotes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from .messages import message_text
from .policy import Policy
from .tokens import TokenCounter
from .types import Candidate, SectionTokens, Tier

__all__ = ["Composer", "RenderedPrompt"]


def _quote(value: object) -> str:
    return json.dumps(str(value), ensure_ascii=False)


@dataclass(frozen=True)
class _Item:
    text: str
    note: str


@dataclass(frozen=True)
class RenderedPrompt:
    """A rendered system prompt and its token counts per section."""

    text: str
    tokens: SectionTokens


def _note(candidate: Candidate) -> str:
    memory = candidate.memory
    day = memory.created_at.date().isoformat()
    if memory.tier is Tier.EPISODE:
        who = "the user" if memory.role in (None, "user") else memory.role
        if memory.context:
            return f"{who}, {day}, replying to the assistant: {_quote(memory.context)}"
        return f"{who}, {day}"
    if memory.tier is Tier.INFERRED:
        return f"inferred, {day}"
    return f"stated {day}"


class Composer:
    """Renders the sections of the system prompt and counts their tokens."""

    def __init__(self, *, counter: TokenCounter | None = None, template: str | None = None) -> None:
        self.counter = counter or TokenCounter()
        env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
        env.filters["quote"] = _quote
        source = template or resources.files("palign_rag.prompts").joinpath("system.j2").read_text(encoding="utf-8")
        self._template = env.from_string(source)
        # The same memories compete in request after request: count each line once per process.
        self._line_cost = functools.lru_cache(maxsize=65536)(self._line_cost_uncached)
        self._overhead = {
            "preferences": self.counter.count(self._section("preferences", items=[])),
            "memories": self.counter.count(self._section("memories", items=[])),
        }

    def _section(self, section: str, **values: Any) -> str:
        defaults: dict[str, Any] = {"policy_text": "", "app_prompt": "", "items": []}
        defaults.update(values)
        return self._template.render(section=section, **defaults).strip()

    def line_cost(self, candidate: Candidate) -> int:
        """Tokens the candidate's line takes in its section."""
        return self._line_cost(candidate.memory.text, _note(candidate))

    def _line_cost_uncached(self, text: str, note: str) -> int:
        return self.counter.count(f"\n- {_quote(text)} ({note})")

    def section_overhead(self, tier: Tier) -> int:
        """Tokens of the header of the section a tier renders into."""
        return self._overhead["memories" if tier is Tier.EPISODE else "preferences"]

    def render(self, policy: Policy, used: Sequence[Candidate], app_prompt: str) -> RenderedPrompt:
        """The system prompt: policy first, then preferences, remembered context, and the app's prompt."""
        preferences = [_Item(c.memory.text, _note(c)) for c in used if c.memory.tier is not Tier.EPISODE]
        memories = [_Item(c.memory.text, _note(c)) for c in used if c.memory.tier is Tier.EPISODE]
        sections = {
            "policy": self._section("policy", policy_text=policy.text),
            "preferences": self._section("preferences", items=preferences) if preferences else "",
            "memories": self._section("memories", items=memories) if memories else "",
            "app": self._section("app", app_prompt=app_prompt) if app_prompt.strip() else "",
        }
        text = "\n\n".join(part for part in sections.values() if part)
        counts = {name: self.counter.count(part) if part else 0 for name, part in sections.items()}
        tokens = SectionTokens(**counts, total=self.counter.count(text))
        return RenderedPrompt(text=text, tokens=tokens)

    @staticmethod
    def app_prompt(messages: Sequence[dict[str, Any]]) -> str:
        """The app's own system (and developer) instructions, joined in order."""
        return "\n\n".join(
            message_text(m).strip()
            for m in messages
            if m["role"] in ("system", "developer") and message_text(m).strip()
        )
