"""Extraction rules, settings, policy parsing, token counting and the public namespace."""

from __future__ import annotations

from pathlib import Path

import pytest

import palign_rag
from palign_rag import InvalidInputError, Policy, Settings
from palign_rag.extract import extract, is_preference
from palign_rag.tokens import TokenCounter
from palign_rag.types import MemoryKind


@pytest.mark.parametrize(
    "sentence",
    [
        "I prefer short answers.",
        "I'd rather take the train.",
        "I can't stand cilantro.",
        "I'm allergic to shellfish.",
        "I have a severe peanut allergy.",
        "Please don't use emojis.",
        "Never book me a middle seat.",
        "My favourite cuisine is Ethiopian.",
        "I have a strong dislike for horror movies.",
        "I follow a strict vegan diet.",
    ],
)
def test_stated_preferences_are_recognised(sentence: str) -> None:
    assert is_preference(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "What is the capital of Peru?",
        "I'd like you to write a poem about the sea.",
        "Can you fix this SQL query?",
        "The meeting moved to Tuesday.",
        "I went to Rome last summer.",
    ],
)
def test_requests_and_plain_statements_are_not_preferences(sentence: str) -> None:
    assert not is_preference(sentence)


def test_extract_keeps_context_only_when_a_turn_says_more_than_its_preferences() -> None:
    found = extract(
        [
            {"role": "user", "content": "I prefer tea."},
            {"role": "user", "content": "I avoid sugar. What should I drink in the morning?"},
        ]
    )
    assert [(f.kind, f.message_index) for f in found] == [
        (MemoryKind.PREFERENCE, 0),
        (MemoryKind.PREFERENCE, 1),
        (MemoryKind.EPISODE, 1),
    ]


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
