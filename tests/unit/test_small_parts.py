"""Splitting turns, settings, policy parsing, token counting and the public namespace."""

from __future__ import annotations

from pathlib import Path

import pytest

import palign_rag
from palign_rag import InvalidInputError, Policy, Settings
from palign_rag.extract import turns
from palign_rag.tokens import TokenCounter


def test_turns_split_user_turns_into_sentences_and_keep_what_they_answer() -> None:
    found = turns(
        [
            {"role": "user", "content": "I prefer tea."},
            {"role": "assistant", "content": "Noted!"},
            {"role": "user", "content": "I avoid sugar. What should I drink in the morning?\nThanks"},
            {"role": "system", "content": "You are a bot."},
        ]
    )
    assert [(t.message_index, t.sentences, t.context) for t in found] == [
        (0, ("I prefer tea.",), None),
        (2, ("I avoid sugar.", "What should I drink in the morning?", "Thanks"), "Noted!"),
    ]
    long_turn = turns([{"role": "user", "content": "I like tea. " + "x" * 500}])[0]
    assert long_turn.sentences == ("I like tea.",) and long_turn.sentence_count == 2


def test_settings_take_arguments_first_then_environment(tmp_path: Path) -> None:
    env = {"PALIGN_HOME": str(tmp_path / "env-home"), "PALIGN_BACKEND": "openai", "PALIGN_MODEL": "m-env"}
    from_env = Settings.resolve(env=env)
    assert from_env.home == tmp_path / "env-home" and from_env.backend == "openai" and from_env.model == "m-env"
    explicit = Settings.resolve(home=tmp_path / "arg", backend="local", model="m-arg", env=env)
    assert explicit.home == tmp_path / "arg" and explicit.backend == "local" and explicit.model == "m-arg"
    assert Settings.resolve(env={}).backend == "local"
    assert Settings.resolve(env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}).backend == "openai"


def test_settings_errors_name_the_fix() -> None:
    with pytest.raises(InvalidInputError, match="'local' or 'openai'"):
        Settings.resolve(env={"PALIGN_BACKEND": "gpt"})
    with pytest.raises(InvalidInputError, match="whole number"):
        Settings.resolve(env={"PALIGN_MEMORY_BUDGET": "lots"})


def test_policy_header_and_errors() -> None:
    policy = Policy.from_text("---\nid: shop\nversion: 4\ndeny: refund fraud\n---\nBe fair.\n")
    assert (policy.id, policy.version, policy.text) == ("shop", "4", "Be fair.")
    assert policy.violation("how to do refund fraud") is not None
    assert policy.violation("I prefer fast shipping") is None
    with pytest.raises(InvalidInputError, match="never closed"):
        Policy.from_text("---\nid: x\n")
    with pytest.raises(InvalidInputError, match="no text"):
        Policy.from_text("---\nid: x\n---\n   \n")
    with pytest.raises(InvalidInputError, match="not a valid regex"):
        Policy.from_text("---\ndeny: ([\n---\nBe fair.")


def test_default_policy_ships_with_the_package() -> None:
    policy = Policy.default()
    assert policy.id == "palign-default"
    assert "outrank" in policy.text
    assert len(policy.hash) == 16


def test_token_counts_work_offline() -> None:
    counter = TokenCounter()
    assert counter.count("hello world") == 2
    assert counter.truncate("one two three four", 2) == "one two"
    assert TokenCounter("o200k_base").count("hello world") == 2


def test_public_names_are_sorted_and_importable() -> None:
    assert palign_rag.__all__ == sorted(palign_rag.__all__)
    for name in palign_rag.__all__:
        assert getattr(palign_rag, name) is not None


def test_cached_embedder_embeds_each_distinct_text_once() -> None:
    import numpy as np

    from palign_rag.embed import CachedEmbedder, FakeEmbedder

    inner = FakeEmbedder()
    cached = CachedEmbedder(inner, max_items=3)
    first = cached.embed(["thanks!", "ok", "thanks!"])
    again = cached.embed(["ok", "thanks!"])
    assert inner.calls == 1
    assert np.array_equal(first[0], again[1]) and np.array_equal(first[0], first[2])
    assert np.array_equal(again, inner.embed(["ok", "thanks!"]))
    cached.embed(["a", "b", "c"])  # evicts the older texts
    cached.embed(["thanks!"])
    assert (cached.hits, cached.misses) == (3, 6)
    assert cached.name == inner.name and cached.dimension == inner.dimension


def test_the_corpus_validator_knows_the_labels_the_library_knows() -> None:
    """training/validate_corpus.py runs on plain python3 (writers have no venv), so it keeps its own copy."""
    import importlib.util

    from palign_rag.understand.labels import ALWAYS_SUBJECTS, CONFLICTS, RELATIONS, TOPIC_SUBJECTS

    path = Path(__file__).resolve().parents[2] / "training" / "validate_corpus.py"
    spec = importlib.util.spec_from_file_location("validate_corpus", path)
    assert spec is not None and spec.loader is not None
    validator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(validator)
    assert (validator.ALWAYS, validator.TOPICS) == (ALWAYS_SUBJECTS, TOPIC_SUBJECTS)
    assert (validator.CONFLICTS, validator.RELATIONS) == (CONFLICTS, RELATIONS)


def test_a_fact_on_the_questions_subject_is_used_where_an_episode_saying_as_little_is_not() -> None:
    from datetime import datetime, timezone

    from palign_rag.policy import Policy
    from palign_rag.retrieve import SelectionConfig, rank, select
    from palign_rag.store.base import Hit
    from palign_rag.types import Memory, MemoryKind

    fact = Memory(id="f", user_id="u", text="I'm lactose intolerant.", kind=MemoryKind.FACT, subject="food_drink")
    episode = Memory(id="e", user_id="u", text="I'm lactose intolerant.", kind=MemoryKind.EPISODE)
    hits = [
        Hit(memory=m, dense=0.12, dense_rank=i, lexical=0.0, lexical_rank=None) for i, m in enumerate([fact, episode])
    ]
    ranked = rank(hits, policy=Policy.default(), now=datetime.now(timezone.utc), query_subjects={"food_drink": 0.6})
    select(ranked, SelectionConfig(), cost=lambda c: 10, section_overhead=lambda tier: 10)
    by_id = {c.memory.id: c for c in ranked}
    assert by_id["f"].decision == "used" and by_id["f"].on_subject == 0.6
    assert by_id["e"].decision == "dropped_relevance" and "below" in by_id["e"].reason
    # the same fact, asked about something else, is not dragged in
    off = rank(hits[:1], policy=Policy.default(), now=datetime.now(timezone.utc), query_subjects={"food_drink": 0.01})
    select(off, SelectionConfig(), cost=lambda c: 10, section_overhead=lambda tier: 10)
    assert off[0].decision == "dropped_relevance" and "a fact on food_drink" in off[0].reason


def test_a_preference_that_replaced_another_is_relevant_where_the_older_one_was() -> None:
    from datetime import datetime, timezone

    from palign_rag.policy import Policy
    from palign_rag.retrieve import SelectionConfig, rank, select
    from palign_rag.store.base import Hit
    from palign_rag.types import Memory, MemoryKind, MemoryStatus

    def preference(id_: str, text: str, **extra: object) -> Memory:
        return Memory(
            id=id_, user_id="u", text=text, kind=MemoryKind.PREFERENCE, applies="topical", subject="transport", **extra
        )

    older = preference("old", "Uber everywhere.", status=MemoryStatus.SUPERSEDED, superseded_by="new")
    newer = preference("new", "Public transport only.", supersedes="old")
    unrelated = preference("other", "Aisle seats on trains.")

    def run(older_dense: float) -> dict[str, object]:
        hits = [
            Hit(memory=m, dense=d, dense_rank=i, lexical=0.0, lexical_rank=None)
            for i, (m, d) in enumerate([(older, older_dense), (newer, 0.2), (unrelated, 0.2)])
        ]
        ranked = rank(hits, policy=Policy.default(), now=datetime.now(timezone.utc), query_subjects={"transport": 0.0})
        select(ranked, SelectionConfig(), cost=lambda c: 10, section_overhead=lambda tier: 10)
        return {c.memory.id: c for c in ranked}

    # the question is close to what the user used to prefer: the preference that replaced it is what applies now
    close = run(0.5)
    assert close["old"].decision == "superseded"
    assert close["new"].decision == "used" and close["new"].touched_via == "old" and "replaced" in close["new"].reason
    assert close["other"].decision == "dropped_relevance"  # only the successor inherits the older one's subject
    # a question the older one was not close to either leaves the newer one out, as before
    far = run(0.1)
    assert far["new"].decision == "dropped_relevance" and far["new"].touched_via is None


def test_a_blocked_preference_follows_the_policy_in_force_at_read_time() -> None:
    from datetime import datetime, timezone

    from palign_rag.policy import Policy
    from palign_rag.retrieve import rank
    from palign_rag.store.base import Hit
    from palign_rag.types import Memory, MemoryKind, MemoryStatus

    blocked = Memory(
        id="b",
        user_id="u",
        text="Never warn me about risks.",
        kind=MemoryKind.PREFERENCE,
        applies="always",
        status=MemoryStatus.BLOCKED,
        blocked_by="palign-default/safety",
    )
    hits = [Hit(memory=blocked, dense=0.5, dense_rank=0, lexical=0.0, lexical_rank=None)]
    now = datetime.now(timezone.utc)
    assert rank(hits, policy=Policy.default(), now=now)[0].decision == "blocked"
    # a policy that holds the value under another id still blocks it
    strict = Policy.from_text("---\nid: other\n---\nBe safe.")
    assert rank(hits, policy=strict, now=now)[0].decision == "blocked"
    # a policy that does not hold that value lets the preference through
    lenient = Policy.from_text("---\nid: lenient\nprinciples: honesty\n---\nBe honest.")
    assert rank(hits, policy=lenient, now=now)[0].reason == ""
