"""Reading time expressions from questions, and matching memory times against them."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from palign_rag.timecues import find_time_cue

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def ts(year: int, month: int, day: int, hour: int = 0) -> float:
    return datetime(year, month, day, hour, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(
    ("question", "start", "end"),
    [
        ("Who did I have dinner with on May 3, 2023?", "2023-05-03", "2023-05-03"),
        ("what happened on 7 July, 2023", "2023-07-07", "2023-07-07"),
        ("notes from 2024-02-29 please", "2024-02-29", "2024-02-29"),
        ("What did she paint in October 2023?", "2023-10-01", "2023-10-31"),
        ("Which state did we visit in summer 2021?", "2021-06-01", "2021-08-31"),
        ("How many races did I run in 2022?", "2022-01-01", "2022-12-31"),
        ("What did I do the week before April 10, 2023?", "2023-03-27", "2023-04-09"),
    ],
)
def test_absolute_dates_become_windows(question: str, start: str, end: str) -> None:
    cue = find_time_cue(question, now=NOW)
    assert cue is not None
    assert cue.describe().endswith(f"{start} to {end}")


def test_a_month_without_a_year_means_that_month_in_any_year() -> None:
    cue = find_time_cue("When did I go camping in June?", now=NOW)
    assert cue is not None and cue.month == 6
    matches = cue.match(np.array([ts(2019, 6, 15), ts(2023, 6, 1), ts(2023, 9, 15)]))
    assert matches[0] == pytest.approx(1.0) and matches[1] == pytest.approx(1.0)
    assert matches[2] < 0.05


@pytest.mark.parametrize(
    "text",
    [
        "May I ask what you would suggest?",
        "I ate 2000 calories today at 12:30",
        "I always fall asleep during films",
        "What is my favourite colour?",
    ],
)
def test_words_that_only_look_like_dates_are_not_cues(text: str) -> None:
    cue = find_time_cue(text, now=NOW)
    assert cue is None or cue.phrase.lower() == "today"


def test_relative_expressions_are_read_from_the_time_of_the_question() -> None:
    cue = find_time_cue("What did I cook two weeks ago?", now=NOW)
    assert cue is not None
    matches = cue.match(np.array([ts(2026, 11, 10), ts(2026, 11, 23), ts(2025, 11, 10)]))
    assert matches[0] == pytest.approx(1.0)
    assert matches[1] < 0.5 and matches[2] < 1e-6
    yesterday = find_time_cue("what did we talk about yesterday", now=NOW)
    assert yesterday is not None and yesterday.describe().endswith("2026-11-23 to 2026-11-23")


def test_match_decays_with_distance_outside_the_window() -> None:
    cue = find_time_cue("on 3 May 2023", now=NOW)
    assert cue is not None
    inside, near, far = cue.match(np.array([ts(2023, 5, 3, 18), ts(2023, 5, 4, 12), ts(2023, 8, 1)]))
    assert inside == pytest.approx(1.0)
    assert 0.3 < near < 1.0
    assert far < 1e-4


def test_recently_points_at_the_users_latest_memories_whatever_the_date() -> None:
    cue = find_time_cue("What workshop did I attend recently?", now=NOW)
    assert cue is not None and cue.recent
    old, newest = cue.match(np.array([ts(2020, 1, 1), ts(2021, 3, 1)]))
    assert newest == pytest.approx(1.0) and old < 0.01


@pytest.mark.parametrize(
    "text", ["Which festival should I go to next month?", "Plans for next summer?", "What about in 2030?"]
)
def test_the_future_is_no_cue_because_no_memory_comes_from_it(text: str) -> None:
    assert find_time_cue(text, now=NOW) is None


def test_memories_that_all_fit_the_cue_equally_keep_their_order_across_kinds() -> None:
    from palign_rag.policy import Policy
    from palign_rag.retrieve import rank
    from palign_rag.store.base import Hit
    from palign_rag.types import Memory, MemoryKind

    memories = [
        Memory(id=f"m{i}", user_id="u", text=f"memory {i}", kind=kind)
        for i, kind in enumerate([MemoryKind.EPISODE, MemoryKind.PREFERENCE, MemoryKind.EPISODE])
    ]
    ranks = [(0, 0), (1, None), (2, 1)]

    def order(temporal: float | None) -> list[str]:
        hits = [
            Hit(
                memory=m,
                dense=0.5,
                dense_rank=d,
                lexical=1.0 if lex is not None else 0.0,
                lexical_rank=lex,
                temporal=temporal,
            )
            for m, (d, lex) in zip(memories, ranks)
        ]
        ranked = rank(hits, policy=Policy.default(), now=NOW)
        return [c.memory.id for c in sorted(ranked, key=lambda c: -c.score)]

    assert order(1.0) == order(None)


@pytest.mark.parametrize(
    ("question", "now", "window"),
    [
        ("What did I do last summer?", datetime(2026, 11, 24, tzinfo=timezone.utc), "2026-06-01 to 2026-08-31"),
        ("What did I do last summer?", datetime(2026, 7, 10, tzinfo=timezone.utc), "2025-06-01 to 2025-08-31"),
        ("Where did we ski this winter?", datetime(2026, 2, 10, tzinfo=timezone.utc), "2025-12-01 to 2026-02-28"),
        ("Where did we ski last winter?", datetime(2026, 2, 10, tzinfo=timezone.utc), "2024-12-01 to 2025-02-28"),
    ],
)
def test_seasons_named_relative_to_now(question: str, now: datetime, window: str) -> None:
    cue = find_time_cue(question, now=now)
    assert cue is not None and cue.describe().endswith(window)
