"""Retrieval with the real bundled embedding model (all-MiniLM-L6-v2), on real embedded Chroma."""

from __future__ import annotations

from pathlib import Path

import pytest

from palign_rag import Personalizer, SentenceTransformerEmbedder
from tests.conftest import RecordingBackend, user

pytestmark = pytest.mark.integration


@pytest.fixture
def real(home: Path, real_embedder: SentenceTransformerEmbedder, backend: RecordingBackend) -> Personalizer:
    return Personalizer(home, embedder=real_embedder, backend=backend)


def test_the_relevant_preference_and_episode_rank_first(real: Personalizer) -> None:
    real.remember("ana", "I prefer answers in British English.")
    real.remember("ana", "I have a severe peanut allergy.")
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
    assert preferences[0].memory.text == "I have a severe peanut allergy."
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
