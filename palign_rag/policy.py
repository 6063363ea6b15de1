"""The value envelope: loading a policy, and the write-time and read-time gates.

A policy is a Markdown file with a small header::

    ---
    id: my-app
    version: 3
    ---
    Text placed first in every system prompt, verbatim.

It outranks every preference and memory. The gate keeps instruction-like text (prompt injection)
and anything matching the policy's ``deny`` patterns out of prompts.

A ``principles`` header line names the value categories the policy holds (``honesty``, ``safety``,
``privacy``; all three when the line is absent). A preference the understanding layer finds asking the
assistant to drop one of them is stored blocked with the principle's id, ``<policy id>/<category>``, and
never composed.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .defuse import CONTROL_TOKEN
from .errors import InvalidInputError
from .normalize import detection_views
from .understand.labels import CONFLICTS

__all__ = ["INJECTION_PATTERNS", "STRUCTURAL_PATTERNS", "Policy"]

INJECTION_PATTERNS: tuple[str, ...] = (
    r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,40}\b(?:instructions?|rules?|polic(?:y|ies)|prompts?|guidelines?|values?)\b",
    r"\b(?:system|developer) (?:prompt|message|instructions?)\b",
    r"\byou are (?:now|no longer)\b",
    r"\b(?:new|updated) (?:instructions?|rules?)\s*:",
    r"\b(?:jailbreak|DAN mode|developer mode)\b",
    r"\bpretend (?:that )?(?:you|there) (?:are|is) no (?:rules?|restrictions?|polic(?:y|ies))\b",
    r"</?(?:system|instructions?|policy)>",
)
STRUCTURAL_PATTERNS: dict[str, str] = {
    CONTROL_TOKEN.pattern: "a chat-template or role token",
    r"[\"']role[\"']\s*:\s*[\"'](?:system|assistant|developer|tool|function)[\"']": "a message in another role",
    r"[\"'](?:tool_calls|function_call|tool_use|tool_choice)[\"']\s*:|[\"']method[\"']\s*:\s*[\"']tools/call"
    r"|</?\s*(?:function_calls|invoke|tool_calls?|tool_use)\b": "a tool call",
    r"\{\{.{0,500}?\}\}|\{%.{0,500}?%\}": "a template expression",
    r"<\s*/?\s*(?:script|iframe|object|embed|svg|link|meta|form)\b|<[^<>]{0,500}\bon[a-z]+\s*=": "active markup",
    r"(?:^|[\s\"'(])=\s*(?:HYPERLINK|IMAGE|IMPORTXML|IMPORTDATA|IMPORTHTML|IMPORTFEED|WEBSERVICE)\s*\(": "a formula that fetches a URL",
    r"!\[[^\]]{0,500}\]\s*\(\s*(?:https?:)?//|<\s*img\b[^<>]{0,500}\bsrc\s*=\s*[\"']?(?:https?:)?//": "an image that would fetch an outside URL",
}
"""Text no one writes to state a preference, whatever its words: a role token, a message in another role, a
tool call, a template expression, active markup, an image or formula that fetches an outside URL. A memory
holding one is quarantined (kept for audit, never composed); the text would be defused at render anyway."""


def _parse(text: str, origin: str) -> tuple[dict[str, str], list[str], str]:
    header: dict[str, str] = {}
    deny: list[str] = []
    body = text
    if text.startswith("---"):
        parts = text.split("---", 2)
        if len(parts) < 3:
            raise InvalidInputError(f"Policy {origin}: the header opened with '---' is never closed by another '---'.")
        for line in parts[1].splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition(":")
            if not sep:
                raise InvalidInputError(f"Policy {origin}: header line {line!r} is not 'key: value'.")
            key, value = key.strip(), value.strip()
            if key == "deny":
                deny.append(value)
            else:
                header[key] = value
        body = parts[2]
    body = body.strip()
    if not body:
        raise InvalidInputError(f"Policy {origin} has no text: write the values the assistant must keep.")
    return header, deny, body


@dataclass(frozen=True)
class Policy:
    """A fixed envelope of values, placed first in every prompt and enforced by the gate."""

    id: str
    text: str
    version: str = "1"
    deny: tuple[str, ...] = ()
    """Extra regular expressions: a memory matching one is refused (write) or blocked (read)."""
    principles: tuple[str, ...] = CONFLICTS
    """The value categories this policy holds; a preference asking to drop one of them is blocked."""
    _compiled: tuple[re.Pattern[str], ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.principles) - set(CONFLICTS))
        if unknown:
            raise InvalidInputError(
                f"Policy {self.id}: unknown principles {unknown}; a policy can hold {', '.join(CONFLICTS)}."
            )
        patterns = []
        for pattern in (*INJECTION_PATTERNS, *STRUCTURAL_PATTERNS, *self.deny):
            try:
                patterns.append(re.compile(pattern, re.IGNORECASE | re.DOTALL))
            except re.error as exc:
                raise InvalidInputError(
                    f"Policy {self.id}: deny pattern {pattern!r} is not a valid regex ({exc})."
                ) from None
        object.__setattr__(self, "_compiled", tuple(patterns))

    @property
    def hash(self) -> str:
        """sha256 of the policy's id, version, text and deny patterns (first 16 hex digits)."""
        raw = "\x1f".join([self.id, self.version, self.text, *self.deny, "principles", *self.principles]).encode()
        return hashlib.sha256(raw).hexdigest()[:16]

    @classmethod
    def from_text(cls, text: str, *, origin: str = "<text>", deny: Iterable[str] = ()) -> Policy:
        header, file_deny, body = _parse(text, origin)
        principles = CONFLICTS
        if "principles" in header:
            principles = tuple(p for p in header["principles"].replace(",", " ").split() if p)
        return cls(
            id=header.get("id", "custom"),
            version=header.get("version", "1"),
            text=body,
            deny=tuple(file_deny) + tuple(deny),
            principles=principles,
        )

    @classmethod
    def from_file(cls, path: str | Path) -> Policy:
        """Load a policy file (see the module docstring for the format)."""
        location = Path(path).expanduser()
        try:
            text = location.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"Cannot read the policy file {location}: {exc.strerror or exc}.") from exc
        return cls.from_text(text, origin=str(location))

    @classmethod
    def default(cls) -> Policy:
        """The policy shipped in ``prompts/policy.default.md``."""
        text = resources.files("palign_rag.prompts").joinpath("policy.default.md").read_text(encoding="utf-8")
        return cls.from_text(text, origin="prompts/policy.default.md")

    def principle(self, conflict: str | None) -> str | None:
        """The id of this policy's principle for a value category (``safety`` -> ``palign-default/safety``),
        or None when the policy does not hold that value."""
        if conflict is None or conflict not in self.principles:
            return None
        return f"{self.id}/{conflict}"

    def violation(self, text: str) -> str | None:
        """Why the gate refuses ``text``, or None when it may be used. The gate reads the normalized text and
        every decoded view of it (``normalize.detection_views``: look-alike letters, base64, URL-encoded and
        hex spans)."""
        if len(text) > 2000:  # long pasted texts are not kept in the cache
            return _violation.__wrapped__(self._compiled, text)
        return _violation(self._compiled, text)


@functools.lru_cache(maxsize=16384)
def _violation(compiled: tuple[re.Pattern[str], ...], text: str) -> str | None:
    # Cached: the same memories are checked on every request (read-time gate).
    for number, view in enumerate(detection_views(text)):
        for pattern in compiled:
            if pattern.search(view):
                where = "" if number == 0 else " (in a decoded or look-alike form of the text)"
                if pattern.pattern in STRUCTURAL_PATTERNS:
                    return f"instruction-like text: holds {STRUCTURAL_PATTERNS[pattern.pattern]}{where}"
                kind = "instruction-like text" if pattern.pattern in INJECTION_PATTERNS else "a denied pattern"
                return f"{kind}: matches {pattern.pattern!r}{where}"
    return None
