"""The project's own scenario suites: does the composed prompt hold what it should, in everyday situations?

Three suites (JSONL, written by the project, never trained or tuned on; ``training/scenarios/``):

- ``changes_of_mind.jsonl`` (``earlier``, ``later``, ``question``): the earlier preference is said in January,
  the later one in June, the question is asked after both. Passes when the later preference is in the
  composed prompt and the earlier one is not.
- ``always_on.jsonl`` (``preference``, ``question``): a how-to-answer preference and an unrelated question.
  Passes when the preference is in the prompt.
- ``topical.jsonl`` (``preference``, ``related_question``, ``unrelated_question``): reports how often the
  preference reaches the prompt of the related question (should be high) and of the unrelated one (should be
  low: over-personalization).

Everything runs through the real ``ingest`` and ``compose``: each preference is a user turn of a chat history
(with an assistant acknowledgement), one user per scenario. What is in the prompt is read from the trace by
provenance (the message index the memory came from), never by matching text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..personalizer import Personalizer

__all__ = ["run_scenarios"]

ACK = "Thanks, noted."
_EARLIER = "2025-01-10T09:00:00Z"
_LATER = "2025-06-10T09:00:00Z"
_ASKED = "2025-06-20T09:00:00Z"
Progress = Callable[[int], None]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file, one per non-empty line; a clear error names the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInputError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    rows = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{path}:{number} is not valid JSON ({exc.msg}).") from None
    return rows


def _used_indexes(personalizer: Personalizer, user: str, question: str) -> set[int]:
    composed = personalizer.compose(user, [{"role": "user", "content": question, "created_at": _ASKED}])
    return {c.memory.message_index for c in composed.trace.used() if c.memory.message_index is not None}


def _said(text: str, when: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text, "created_at": when}, {"role": "assistant", "content": ACK}]


def _changes_of_mind(personalizer: Personalizer, user: str, row: dict[str, Any]) -> dict[str, bool]:
    personalizer.ingest(user, _said(row["earlier"], _EARLIER))
    personalizer.ingest(user, _said(row["later"], _LATER))
    # message indexes restart per ingest call: earlier and later are both index 0, so tell them by time
    composed = personalizer.compose(user, [{"role": "user", "content": row["question"], "created_at": _ASKED}])
    used = {c.memory.created_at.isoformat()[:10] for c in composed.trace.used()}
    return {"current_only": _LATER[:10] in used and _EARLIER[:10] not in used}


def _always_on(personalizer: Personalizer, user: str, row: dict[str, Any]) -> dict[str, bool]:
    personalizer.ingest(user, _said(row["preference"], _EARLIER))
    return {"in_prompt": 0 in _used_indexes(personalizer, user, row["question"])}


def _topical(personalizer: Personalizer, user: str, row: dict[str, Any]) -> dict[str, bool]:
    personalizer.ingest(user, _said(row["preference"], _EARLIER))
    return {
        "related_in_prompt": 0 in _used_indexes(personalizer, user, row["related_question"]),
        "unrelated_in_prompt": 0 in _used_indexes(personalizer, user, row["unrelated_question"]),
    }


Check = Callable[[Personalizer, str, dict[str, Any]], dict[str, bool]]
# suite -> (its count's name, the check of one row, failures as (name, outcome, the value that fails))
_SUITES: dict[str, tuple[str, Check, tuple[tuple[str, str, bool], ...]]] = {
    "changes_of_mind": ("scenarios", _changes_of_mind, (("changes_of_mind", "current_only", False),)),
    "always_on": ("cases", _always_on, (("always_on", "in_prompt", False),)),
    "topical": (
        "cases",
        _topical,
        (("topical_unrelated", "unrelated_in_prompt", True), ("topical_related_missed", "related_in_prompt", False)),
    ),
}


def run_scenarios(
    personalizer: Personalizer, folder: str | Path, *, progress: Progress | None = None
) -> dict[str, Any]:
    """Run every suite found in ``folder``; each scenario's user is forgotten afterwards."""
    root = Path(folder).expanduser()
    paths = {name: root / f"{name}.jsonl" for name in _SUITES}
    if not any(p.exists() for p in paths.values()):
        raise InvalidInputError(f"No scenario suites in {root}: expected {', '.join(p.name for p in paths.values())}.")
    figures: dict[str, Any] = {}
    failures: dict[str, list[str]] = {}
    for name, (counted, check, failing) in _SUITES.items():
        if not paths[name].exists():
            continue
        rows = read_jsonl(paths[name])
        totals: dict[str, int] = {}
        for row in rows:
            user = f"scenario-{row['id']}"
            personalizer.forget(user)
            outcome = check(personalizer, user, row)
            personalizer.forget(user)
            for key, value in outcome.items():
                totals[key] = totals.get(key, 0) + value
            for failure, key, bad in failing:
                if outcome[key] is bad:
                    failures.setdefault(failure, []).append(str(row["id"]))
            if progress:
                progress(1)
        count = max(len(rows), 1)
        figures[name] = {counted: len(rows), **{key: round(total / count, 4) for key, total in totals.items()}}
    figures["failures"] = failures
    return figures
