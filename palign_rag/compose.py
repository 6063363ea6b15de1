"""Rendering the system prompt from the templates in ``prompts/``, with token counts.

Templates are rendered in Jinja's sandbox. Memory and preference text is only ever passed in as data:
normalized (``normalize``), made inert (``defuse``: chat-template tokens neutralized, images and URLs
defused) and rendered JSON-quoted inside a block fenced by a marker drawn at random for each request
(``data_marker``), which no memory text contains, so nothing a user wrote can become template source, a
control token, a fetchable image, or pass for the end of the data. The policy section depends on the policy
alone: it is byte-identical whatever the memories hold.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from .defuse import defuse
from .messages import message_text
from .normalize import normalize
from .policy import Policy
from .tokens import TokenCounter
from .types import Candidate, SectionTokens, Tier

__all__ = ["Composer", "RenderedPrompt", "data_marker"]


def _quote(value: object) -> str:
    return json.dumps(str(value), ensure_ascii=False)


_CACHED_CHARS = 2000
"""Texts longer than this are not cached (a cache of long pasted texts would hold megabytes of user text)."""


def _shown(text: str) -> str:
    """Memory text as a prompt shows it: normalized and inert (quoted by the template)."""
    return _shown_cached(text) if len(text) <= _CACHED_CHARS else defuse(normalize(text))


@functools.lru_cache(maxsize=16384)
def _shown_cached(text: str) -> str:
    return defuse(normalize(text))


def data_marker(texts: Sequence[str] = ()) -> str:
    """A fresh random fence for the data blocks of one prompt, contained in none of ``texts``."""
    while True:
        marker = "data-" + secrets.token_hex(6)
        if not any(marker in text for text in texts):
            return marker


@dataclass(frozen=True)
class _Item:
    text: str
    note: str


@dataclass(frozen=True)
class RenderedPrompt:
    """A rendered system prompt and its token counts per section."""

    text: str
    tokens: SectionTokens
    marker: str
    """The fence of this prompt's data blocks."""


def _note(candidate: Candidate) -> str:
    memory = candidate.memory
    day = memory.created_at.date().isoformat()
    if memory.tier is Tier.EPISODE:
        who = "the user" if memory.role in (None, "user") else memory.role
        if memory.context:
            return f"{who}, {day}, replying to the assistant: {_quote(_shown(memory.context))}"
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
        # a marker's digits take 0 to 24 more tokens from one draw to the next: headers are counted per marker
        self._overhead = functools.lru_cache(maxsize=256)(self._overhead_uncached)

    def _section(self, section: str, **values: Any) -> str:
        defaults: dict[str, Any] = {"policy_text": "", "app_prompt": "", "items": [], "marker": ""}
        defaults.update(values)
        return self._template.render(section=section, **defaults).strip()

    def line_cost(self, candidate: Candidate) -> int:
        """Tokens the candidate's line takes in its section."""
        return self._line_cost(_shown(candidate.memory.text), _note(candidate))

    def _line_cost_uncached(self, text: str, note: str) -> int:
        return self.counter.count(f"\n- {_quote(text)} ({note})")

    def _overhead_uncached(self, section: str, marker: str) -> int:
        return self.counter.count(self._section(section, items=[], marker=marker))

    def section_overhead(self, tier: Tier, marker: str) -> int:
        """Tokens of the header and fences of the section a tier renders into, with this data marker."""
        return self._overhead("memories" if tier is Tier.EPISODE else "preferences", marker)

    def marker_for(self, candidates: Sequence[Candidate]) -> str:
        """A data marker for a prompt that may hold any of ``candidates``: in none of their rendered lines."""
        return data_marker([f"{_shown(c.memory.text)} {_note(c)}" for c in candidates])

    def render(
        self, policy: Policy, used: Sequence[Candidate], app_prompt: str, *, marker: str | None = None
    ) -> RenderedPrompt:
        """The system prompt: policy first, then preferences, remembered context (each in a data block fenced
        by ``marker``, by default a fresh random one; see ``marker_for``), and the app's prompt."""
        items = [(c, _Item(_shown(c.memory.text), _note(c))) for c in used]
        preferences = [item for c, item in items if c.memory.tier is not Tier.EPISODE]
        memories = [item for c, item in items if c.memory.tier is Tier.EPISODE]
        lines = [f"{item.text} {item.note}" for _, item in items]
        if marker is None:
            marker = data_marker(lines)
        elif any(marker in line for line in lines):
            raise ValueError("the data marker appears in a memory: draw it with marker_for over these memories")
        sections = {
            "policy": self._section("policy", policy_text=policy.text),
            "preferences": self._section("preferences", items=preferences, marker=marker) if preferences else "",
            "memories": self._section("memories", items=memories, marker=marker) if memories else "",
            "app": self._section("app", app_prompt=app_prompt) if app_prompt.strip() else "",
        }
        text = "\n\n".join(part for part in sections.values() if part)
        counts = {name: self.counter.count(part) if part else 0 for name, part in sections.items()}
        tokens = SectionTokens(**counts, total=self.counter.count(text))
        return RenderedPrompt(text=text, tokens=tokens, marker=marker)

    @staticmethod
    def app_prompt(messages: Sequence[dict[str, Any]]) -> str:
        """The app's own system (and developer) instructions, joined in order."""
        return "\n\n".join(
            message_text(m).strip()
            for m in messages
            if m["role"] in ("system", "developer") and message_text(m).strip()
        )
