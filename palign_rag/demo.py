"""``palign demo``: three example users, the same questions, visibly different prompts and replies."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .config import Settings, default_home
from .errors import InvalidInputError
from .personalizer import Personalizer
from .render import candidate_line

__all__ = ["QUESTIONS", "find_examples", "run_demo"]

QUESTIONS = (
    "What should I cook for dinner tonight?",
    "Can you suggest a trip for next weekend?",
)
_RULE = "-" * 100


def find_examples(explicit: str | Path | None = None) -> Path:
    """The folder of example histories: ``explicit``, else the repository's ``examples/histories``."""
    candidates = (
        [Path(explicit)]
        if explicit
        else [
            Path(__file__).resolve().parent.parent / "examples" / "histories",
            Path.cwd() / "examples" / "histories",
        ]
    )
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("*.jsonl")):
            return folder
    raise InvalidInputError(
        "No example histories found (looked in " + ", ".join(str(c) for c in candidates) + "): "
        "run the demo from the repository, or pass --examples DIR with <user>.jsonl files."
    )


def _load(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_demo(
    *, home: str | Path | None = None, examples: str | Path | None = None, max_tokens: int = 80, use_llm: bool = True
) -> int:
    """Ingest the example users, then compose (and answer, with the local model) the same questions for each."""
    started = time.perf_counter()
    folder = find_examples(examples)
    demo_home = Path(home) if home else default_home() / "demo"
    print(f"palign demo: store {demo_home}, histories from {folder}")
    personalizer = Personalizer(settings=Settings.resolve(home=demo_home, backend="local"))
    users = sorted(path.stem for path in folder.glob("*.jsonl"))
    for user in users:
        report = personalizer.ingest(user, _load(folder / f"{user}.jsonl"), origin=f"{user}.jsonl")
        print(
            f"  ingested {user}: {report.preferences} preferences, {report.episodes} episodes, "
            f"{report.quarantined} quarantined ({report.added} new, {report.refreshed} already known)"
        )
    app_prompt = "You are a friendly assistant. Answer in at most three sentences."
    print(
        f"\nEvery prompt starts with the value policy {personalizer.policy.id}@{personalizer.policy.hash}, "
        "then the user's preferences, then remembered context, then the app's own prompt."
    )
    for question in QUESTIONS:
        print(f"\n{_RULE}\nQUESTION: {question}\n{_RULE}")
        messages = [{"role": "system", "content": app_prompt}, {"role": "user", "content": question}]
        if use_llm:
            plain = personalizer.backend.complete(messages, max_tokens=max_tokens, temperature=0.0, seed=7)
            print(f"\n[no personalization] reply: {plain.content.strip()}")
        for user in users:
            composed = personalizer.compose(user, messages)
            trace = composed.trace
            print(
                f"\n[{user}] {len(trace.used())} memories used of {len(trace.candidates)} candidates "
                f"({trace.tokens.preferences + trace.tokens.memories} memory tokens, compose "
                f"{trace.timings_ms['total']:.0f} ms)"
            )
            for candidate in trace.candidates:
                print(candidate_line(candidate, width=70))
            personal = composed.system_prompt.split("# The user's preferences", 1)
            if len(personal) == 2:
                print("  composed (after the policy):")
                body = "# The user's preferences" + personal[1]
                print("    " + body.replace("\n", "\n    "))
            if use_llm:
                reply = personalizer.backend.complete(composed.messages, max_tokens=max_tokens, temperature=0.0, seed=7)
                print(f"  reply: {reply.content.strip()}")
    print(
        f"\n{_RULE}\nDone in {time.perf_counter() - started:.1f} s. Inspect any prompt yourself, e.g.:\n"
        f'  palign inspect --home {demo_home} --user {users[0]} "{QUESTIONS[0]}"'
    )
    return 0
