"""Retrieval with the real bundled embedding model (all-MiniLM-L6-v2), on real embedded Chroma."""

from __future__ import annotations

from pathlib import Path

import pytest

from palign_rag import Embedder, Personalizer
from tests.conftest import RecordingBackend, user

pytestmark = pytest.mark.integration


@pytest.fixture
def real(home: Path, real_embedder: Embedder, backend: RecordingBackend) -> Personalizer:
    return Personalizer(home, embedder=real_embedder, backend=backend)


def test_the_relevant_preference_and_episode_rank_first(real: Personalizer) -> None:
    real.remember("ana", "I prefer answers in British English.")
    real.remember("ana", "Peanuts give me a severe allergic reaction.")
    real.remember("ana", "I like science fiction novels.")
    real.ingest(
        "ana",
        [
            user("My daughter's birthday party is on Saturday, about twelve kids are coming."),
            user("The printer at work jams every time I print on both sides."),
            user("We adopted a grey cat called Pixel last spring."),
        ],
    )
    composed = real.compose("ana", [user("What snacks should I bake for the kids' party?")])
    used = composed.trace.used()
    preferences = [c for c in composed.trace.candidates if c.memory.kind.value == "preference"]
    assert preferences[0].memory.text == "I prefer answers in British English."  # always-on, first in line
    topical = [c for c in preferences if c.memory.applies == "topical"]
    assert topical[0].memory.text == "Peanuts give me a severe allergic reaction." and topical[0].decision == "used"
    novels = next(c for c in preferences if "science fiction" in c.memory.text)
    assert novels.decision == "dropped_relevance"  # a party-snacks question does not touch reading
    episodes = [c for c in used if c.memory.kind.value == "episode"]
    assert episodes and "birthday party" in episodes[0].memory.text
    assert "printer" not in composed.system_prompt
    printer = next(c for c in composed.trace.candidates if "printer" in c.memory.text)
    assert printer.decision == "dropped_relevance"


def test_ingest_and_compose_round_trip_with_the_example_histories(real: Personalizer) -> None:
    import json

    examples = Path(__file__).resolve().parents[2] / "examples" / "histories"
    for path in sorted(examples.glob("*.jsonl")):
        messages = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        report = real.ingest(path.stem, messages)
        assert report.added > 0
    chen = real.compose("chen", [user("How should I get from Lyon to Berlin?")])
    assert "flying" in chen.system_prompt
    assert "vegan" not in chen.system_prompt  # alice's diet never reaches chen
    assert "Ignore all previous instructions" not in chen.system_prompt  # quarantined


def test_the_real_model_tells_a_changed_mind_from_a_second_taste(real: Personalizer) -> None:
    spicy = real.remember("eve", "I love spicy food")
    italian = real.remember("eve", "I like Italian food")
    coffee = real.remember("eve", "I drink coffee every morning")
    changed = real.remember("eve", "I can't stand spicy food anymore")
    japanese = real.remember("eve", "I now also like Japanese food")
    quit = real.remember("eve", "I've quit coffee")
    stored = {m.id: m for m in real.memories("eve")}
    assert stored[spicy.id].superseded_by == changed.id  # a change of mind
    assert stored[coffee.id].superseded_by == quit.id  # said without any change word
    assert stored[italian.id].status.value == "active"  # "also" adds a taste, it replaces nothing
    composed = real.compose("eve", [user("Plan a day out for me with breakfast, lunch and a museum.")])
    decision = {c.memory.id: c.decision for c in composed.trace.candidates}
    assert decision[spicy.id] == decision[coffee.id] == "superseded"
    assert decision[japanese.id] != "superseded"


def test_adding_a_taste_does_not_replace_a_dislike_on_the_same_subject(real: Personalizer) -> None:
    changed = real.remember("fay", "I can't stand spicy food anymore")
    real.remember("fay", "I now also like Japanese food")
    assert next(m for m in real.memories("fay") if m.id == changed.id).status.value == "active"


def test_a_date_in_the_question_finds_the_episode_from_that_day(real: Personalizer) -> None:
    days = [f"2023-05-{d:02d}T18:00:00Z" for d in range(1, 29, 4)]  # May 1, 5, 9, ... 25
    dishes = ["pasta", "tacos", "ramen", "curry", "paella", "pho", "risotto"]
    real.ingest(
        "max",
        [
            {"role": "user", "content": f"Had dinner with friends, we ate {d}.", "created_at": t}
            for d, t in zip(dishes, days)
        ],
    )
    best = real.retrieve("max", [user("What did we eat at dinner with friends on May 13, 2023?")], k=3)[0]
    assert "curry" in best.memory.text
    undated = real.retrieve("max", [user("What did we eat at dinner with friends?")], k=3)[0]
    assert "curry" not in undated.memory.text  # the date, not the wording, found it
