"""Time cues, superseded preferences and near-duplicate episodes, through the Personalizer's public API.

Superseding is decided by the understanding layer's relation head (the real shipped heads, reading the
bundled model's vectors even when the store's embedder is the fake one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from palign_rag import FakeEmbedder, InvalidInputError, Personalizer, Policy, SelectionConfig
from tests.conftest import RecordingBackend, user


def said(text: str, when: str) -> dict[str, Any]:
    return {"role": "user", "content": text, "created_at": when}


def test_an_episode_from_the_month_asked_about_ranks_first_and_the_trace_says_why(personalizer: Personalizer) -> None:
    personalizer.ingest(
        "ivy",
        [
            said("We went to the lake with my sister and had a picnic.", "2023-03-12T10:00:00Z"),
            said("We went to the lake with my brother and swam a lot.", "2023-07-02T10:00:00Z"),
            said("We went to the lake with my cousin and fished.", "2023-11-20T10:00:00Z"),
        ],
    )
    question = "Who did I go to the lake with in July 2023?"
    best = personalizer.retrieve("ivy", [user(question)], k=3)[0]
    assert "brother" in best.memory.text
    assert best.temporal == 1.0
    composed = personalizer.compose("ivy", [user(question)])
    assert composed.trace.time_cue is not None and "2023-07-01 to 2023-07-31" in composed.trace.time_cue
    remembered = [c for c in composed.trace.used() if c.memory.tier.value == "episode"]  # episodes and facts
    assert "brother" in remembered[0].memory.text
    others = [c.temporal for c in composed.trace.candidates if "brother" not in c.memory.text]
    assert all(t is not None and t < 0.01 for t in others)


def test_without_a_time_cue_nothing_is_time_scored(personalizer: Personalizer) -> None:
    personalizer.ingest("ivy", [said("We went to the lake with my sister.", "2023-03-12T10:00:00Z")])
    composed = personalizer.compose("ivy", [user("Who did I go to the lake with?")])
    assert composed.trace.time_cue is None
    assert all(c.temporal is None for c in composed.trace.candidates)


def test_relative_time_is_read_from_the_questions_own_timestamp(personalizer: Personalizer) -> None:
    personalizer.ingest(
        "ivy",
        [
            said("I cooked a mushroom risotto for dinner.", "2024-05-01T19:00:00Z"),
            said("I cooked a lentil curry for dinner.", "2024-05-13T19:00:00Z"),
        ],
    )
    question = said("What did I cook for dinner yesterday?", "2024-05-14T09:00:00Z")
    assert "lentil" in personalizer.retrieve("ivy", [question], k=2)[0].memory.text
    question = said("What did I cook for dinner two weeks ago?", "2024-05-14T09:00:00Z")
    assert "risotto" in personalizer.retrieve("ivy", [question], k=2)[0].memory.text


def test_a_newer_preference_that_says_the_user_changed_supersedes_the_older_one_without_deleting_it(
    personalizer: Personalizer,
) -> None:
    old = personalizer.remember("jo", "I love very spicy food with lots of chili")
    new = personalizer.remember("jo", "I no longer eat very spicy food with lots of chili")
    composed = personalizer.compose("jo", [user("Suggest a dinner with chili")])
    by_id = {c.memory.id: c for c in composed.trace.candidates}
    assert by_id[new.id].decision == "used"
    assert by_id[old.id].decision == "superseded"
    assert new.id in by_id[old.id].reason and "changed their mind" in by_id[old.id].reason
    assert personalizer.memories("jo")[0].superseded_by == new.id
    assert old.text not in composed.system_prompt
    assert {m.id for m in personalizer.memories("jo")} == {old.id, new.id}  # history kept
    assert [c.memory.id for c in personalizer.retrieve("jo", [user("Suggest a dinner with chili")])] == [new.id]
    personalizer.forget("jo", new.id)
    again = personalizer.compose("jo", [user("Suggest a dinner with chili")])
    assert old.text in again.system_prompt  # the older one comes back once the newer is gone


def test_unrelated_preferences_do_not_supersede_each_other(personalizer: Personalizer) -> None:
    personalizer.remember("jo", "I love very spicy food with lots of chili")
    personalizer.remember("jo", "I never travel by plane, trains only")
    personalizer.remember("jo", "I prefer answers in bullet points")
    composed = personalizer.compose("jo", [user("Plan me a trip with good food")])
    assert [c.decision for c in composed.trace.candidates].count("used") == 3


def test_preferences_from_one_message_never_supersede_each_other(personalizer: Personalizer) -> None:
    personalizer.ingest("kim", [user("I love spicy food. I don't love very spicy food at breakfast.")])
    composed = personalizer.compose("kim", [user("breakfast ideas with spicy food?")])
    assert "superseded" not in [c.decision for c in composed.trace.candidates]


def test_an_episode_that_repeats_another_almost_word_for_word_is_left_out(personalizer: Personalizer) -> None:
    personalizer.ingest(
        "lou",
        [
            said("My car broke down on the motorway near the bridge this morning.", "2024-01-01T08:00:00Z"),
            said("My car broke down on the motorway near the bridge this morning!!", "2024-01-01T08:05:00Z"),
            said("The mechanic says the car needs a new alternator.", "2024-01-02T08:00:00Z"),
        ],
    )
    composed = personalizer.compose("lou", [user("What happened to my car on the motorway?")])
    decisions = {c.memory.text: c for c in composed.trace.candidates}
    repeated = [c for t, c in decisions.items() if t.startswith("My car broke down")]
    assert sorted(c.decision for c in repeated) == ["dropped_duplicate", "used"]
    assert "nearly the same" in next(c.reason for c in repeated if c.decision == "dropped_duplicate")


def test_selection_config_rejects_nonsense() -> None:
    with pytest.raises(InvalidInputError, match="topical_similarity"):
        SelectionConfig(topical_similarity=3.0)
    with pytest.raises(InvalidInputError, match="always_on_share"):
        SelectionConfig(always_on_share=0.0)
    with pytest.raises(InvalidInputError, match="memory_budget"):
        SelectionConfig(memory_budget=0)


def test_timestamps_are_not_forwarded_to_the_backend(personalizer: Personalizer, backend: RecordingBackend) -> None:
    question = said("What did I cook yesterday?", "2024-05-14T09:00:00Z")
    composed = personalizer.compose("ivy", [question])
    assert composed.messages[-1] == {"role": "user", "content": "What did I cook yesterday?"}
    personalizer.chat("ivy", [question])
    assert all("created_at" not in m for m in backend.sent[-1])


def test_a_newer_preference_the_policy_blocks_supersedes_nothing(home: Path, backend: RecordingBackend) -> None:
    strict_policy = Policy.from_text("---\nid: kids\nversion: 1\ndeny: \\bcasino\\b\n---\nKeep it for children.\n")
    strict = Personalizer(home, embedder=FakeEmbedder(), backend=backend, policy=strict_policy)
    old = strict.remember("jo", "I love very spicy food with lots of chili")
    strict.ingest("jo", [user("I no longer eat very spicy food with lots of chili, casino nights instead")])
    composed = strict.compose("jo", [user("Suggest a dinner with chili")])
    decision = {c.memory.id: c.decision for c in composed.trace.candidates}
    assert decision[old.id] == "used"
    assert "quarantined" in decision.values() and "superseded" not in decision.values()


def test_a_turn_kept_whole_replaces_preferences_but_never_facts() -> None:
    from palign_rag.reconcile import _may_replace
    from palign_rag.types import Memory, MemoryKind

    def memory(kind: MemoryKind) -> Memory:
        return Memory(id=kind.value, user_id="u", text="x", kind=kind)

    turn, fact, preference = memory(MemoryKind.EPISODE), memory(MemoryKind.FACT), memory(MemoryKind.PREFERENCE)
    assert _may_replace(turn, preference) and not _may_replace(turn, fact)
    assert _may_replace(fact, fact) and _may_replace(preference, fact) and _may_replace(fact, preference)
    assert not _may_replace(fact, turn)  # a turn kept whole is never replaced
