"""Human-readable views of a composed prompt and its trace (used by the CLI and the demo)."""

from __future__ import annotations

from .types import Candidate, ComposedPrompt

__all__ = ["candidate_line", "trace_text"]


def candidate_line(candidate: Candidate, width: int = 80) -> str:
    """One line per candidate: decision, tier, similarity, word-match rank, time match (when the query has a
    time cue), score and a preview of the text."""
    text = " ".join(candidate.memory.text.split())
    text = text if len(text) <= width else text[: width - 3] + "..."
    lexical = f"#{candidate.lexical_rank + 1}" if candidate.lexical_rank is not None else "-"
    when = f" time={candidate.temporal:.2f}" if candidate.temporal is not None else ""
    applies = {"always": "always", "topical": "topical"}.get(candidate.memory.applies or "", "")
    return (
        f"  {candidate.decision:<18} {candidate.memory.tier.value:<8} {applies:<7} sim={candidate.dense:+.3f} "
        f"words={lexical:<4}{when} score={candidate.score:.3f}  {text}"
    )


def trace_text(composed: ComposedPrompt) -> str:
    """The composed system prompt followed by every candidate and the reason for its fate."""
    trace = composed.trace
    tokens = trace.tokens
    lines = [
        "=== composed system prompt ===",
        composed.system_prompt,
        "",
        f"=== trace {trace.id} ===",
        f"user={trace.user_id} policy={trace.policy_id}@{trace.policy_hash} embedder={trace.embedder}",
        f"time cue: {trace.time_cue or 'none'}",
        f"tokens: policy={tokens.policy} preferences={tokens.preferences} memories={tokens.memories} "
        f"app={tokens.app} total={tokens.total} (memory budget {trace.memory_budget})",
        "timings (ms): " + ", ".join(f"{k}={v:.1f}" for k, v in trace.timings_ms.items()),
        f"candidates ({len(trace.candidates)}):",
    ]
    for candidate in trace.candidates:
        lines.append(candidate_line(candidate))
        if candidate.decision != "used" and candidate.reason:
            lines.append(f"      why: {candidate.reason}")
        understood = candidate.memory.understanding
        if understood is not None and candidate.memory.kind.value != "episode":
            lines.append(f"      read as: {understood.reason}")
    if not trace.candidates:
        lines.append("  (none: this user has no memories yet, so the prompt holds only the policy and the app prompt)")
    return "\n".join(lines)
