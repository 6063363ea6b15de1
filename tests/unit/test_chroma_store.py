"""The ChromaStore contract: scoped, idempotent, exact enough, and safe against a second process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from palign_rag import ChromaStore, Memory, MemoryKind, Scope, StoreError
from palign_rag.types import memory_id_for


def _episodes(scope: Scope, texts: list[str]) -> list[Memory]:
    return [
        Memory(
            id=memory_id_for(scope, MemoryKind.EPISODE, f"{i}:{t}"),
            user_id=scope.user_id,
            tenant=scope.tenant,
            text=t,
            kind=MemoryKind.EPISODE,
        )
        for i, t in enumerate(texts)
    ]


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(params=["embedded", "in_memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ChromaStore:
    return ChromaStore.embedded(tmp_path) if request.param == "embedded" else ChromaStore.in_memory()


def test_search_is_exact_within_a_user_even_with_many_duplicates(store: ChromaStore) -> None:
    """One user, 1,000 episodes, a third of them identical (as "thanks!" turns are): top-k must equal exact search."""
    rng = np.random.default_rng(7)
    scope = Scope(user_id="u1")
    centers = _unit(rng.standard_normal((12, 48)))
    vectors = _unit(centers[rng.integers(0, 12, 1000)] + 0.08 * rng.standard_normal((1000, 48)))
    vectors[:330] = vectors[0]
    memories = _episodes(scope, [f"turn {i}" for i in range(1000)])
    store.upsert(memories, vectors)
    # another user with the very same vectors must not leak in or crowd out results
    other = Scope(user_id="u2")
    store.upsert(_episodes(other, [f"turn {i}" for i in range(1000)]), vectors)
    missed = 0
    for query in _unit(centers + 0.3 * rng.standard_normal((12, 48))):
        hits = [(h.memory, h.dense) for h in store.recall(scope, query, k=10).hits]
        assert len(hits) == 10
        assert {m.user_id for m, _ in hits} == {"u1"}
        tenth_best = np.sort(vectors @ query)[::-1][9]
        missed += sum(1 for _, score in hits if score < tenth_best - 1e-4)
    assert missed == 0


def test_search_returns_all_when_fewer_than_k(store: ChromaStore) -> None:
    scope = Scope(user_id="few")
    store.upsert(_episodes(scope, ["a", "b", "c"]), _unit(np.eye(3, 8, dtype=np.float32)))
    hits = [(h.memory, h.dense) for h in store.recall(scope, _unit(np.ones((1, 8), dtype=np.float32))[0], k=10).hits]
    assert sorted(m.text for m, _ in hits) == ["a", "b", "c"]
    assert store.recall(Scope(user_id="nobody"), np.ones(8, dtype=np.float32), k=10).hits == []


def test_upsert_is_idempotent_by_id(store: ChromaStore) -> None:
    scope = Scope(user_id="idem")
    memories = _episodes(scope, ["same", "other"])
    vectors = _unit(np.eye(2, 8, dtype=np.float32))
    store.upsert(memories, vectors)
    store.upsert(memories, vectors)
    assert store.count(scope) == 2


def test_upsert_refuses_mixed_users_and_writes_nothing(store: ChromaStore) -> None:
    a = _episodes(Scope(user_id="a"), ["x"])
    b = _episodes(Scope(user_id="b"), ["y"])
    with pytest.raises(ValueError, match="one user"):
        store.upsert(a + b, _unit(np.eye(2, 8, dtype=np.float32)))
    assert store.count(Scope(user_id="a")) == 0


def test_a_second_process_cannot_open_the_same_home(tmp_path: Path) -> None:
    ChromaStore.embedded(tmp_path)
    code = (
        "import sys\n"
        "from palign_rag import ChromaStore, StoreError\n"
        "try:\n"
        f"    ChromaStore.embedded({str(tmp_path)!r})\n"
        "except StoreError as exc:\n"
        "    print(exc); sys.exit(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    assert "Another process" in done.stdout and "chroma run" in done.stdout


def test_store_error_is_a_palign_error() -> None:
    from palign_rag import PalignError

    assert issubclass(StoreError, PalignError)


def test_recall_adds_the_best_word_matches_to_the_nearest_vectors(store: ChromaStore) -> None:
    scope = Scope(user_id="lex")
    texts = [f"ordinary note number {i}" for i in range(30)] + ["the zeppelin museum in Friedrichshafen"]
    vectors = _unit(np.vstack([np.eye(1, 8, 0, dtype=np.float32)] * 30 + [np.eye(1, 8, 7, dtype=np.float32)]))
    store.upsert(_episodes(scope, texts), vectors)
    query = _unit(np.eye(1, 8, 0, dtype=np.float32))[0]  # nearest to the ordinary notes
    dense_only = store.recall(scope, query, k=3)
    assert len(dense_only.hits) == 3 and all("zeppelin" not in h.memory.text for h in dense_only.hits)
    hybrid = store.recall(scope, query, k=3, text="When did I visit the Zeppelin museum?")
    [match] = [h for h in hybrid.hits if "zeppelin" in h.memory.text]
    assert match.lexical > 0 and match.lexical_rank == 0 and match.dense_rank == 30
    assert hybrid.total == 31


def test_recall_adds_the_nearest_episodes_that_fit_a_time_cue(store: ChromaStore) -> None:
    from datetime import datetime, timezone

    from palign_rag.timecues import find_time_cue

    scope = Scope(user_id="when")
    old, asked = datetime(2022, 3, 1, tzinfo=timezone.utc), datetime(2023, 9, 20, tzinfo=timezone.utc)
    memories = [
        m.model_copy(update={"created_at": asked if i == 30 else old, "updated_at": asked if i == 30 else old})
        for i, m in enumerate(_episodes(scope, [f"note {i}" for i in range(31)]))
    ]
    rows = np.vstack([np.eye(1, 8, 0, dtype=np.float32)] * 30 + [np.eye(1, 8, 7, dtype=np.float32)])
    store.upsert(memories, _unit(rows))
    query = _unit(np.eye(1, 8, 0, dtype=np.float32))[0]  # nearest to the 30 old notes
    assert all(h.memory.text != "note 30" and h.temporal is None for h in store.recall(scope, query, k=3).hits)
    cue = find_time_cue("what happened in September 2023?")
    assert cue is not None
    recalled = store.recall(scope, query, k=3, when=cue)
    [dated] = [h for h in recalled.hits if h.memory.text == "note 30"]
    assert dated.temporal == 1.0 and dated.dense_rank == 30
    assert all(h.temporal is not None and h.temporal < 1e-6 for h in recalled.hits if h is not dated)
