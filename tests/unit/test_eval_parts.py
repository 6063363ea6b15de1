"""Evaluation helpers that need no data set: history building, the naive baseline, the persona gold, the report,
loader errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from palign_rag import FakeEmbedder, InvalidInputError
from palign_rag.eval.baseline import naive_user_order
from palign_rag.eval.datasets import PrefEvalRecord, load_locomo, load_prefeval
from palign_rag.eval.prefeval import build_history, persona_gold
from palign_rag.eval.report import bar_chart, line_chart, write_report

FILLER = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"filler {i}"} for i in range(10)]
RECORD = PrefEvalRecord(topic="t", index=0, preference="I avoid cheese.", question="Pizza ideas?")


def test_explicit_history_states_the_preference_first_then_2t_filler() -> None:
    history, carriers = build_history(RECORD, "explicit", FILLER, 7)
    assert history[0] == {"role": "user", "content": "I avoid cheese."}
    assert carriers == [0]
    assert len(history) == 2 + 14
    assert history[2:12] == FILLER and history[12]["content"] == "filler 0"  # filler cycles in order


def test_crowded_history_hides_the_preference_among_others() -> None:
    others = [f"I prefer colour {i}." for i in range(19)]
    history, carriers = build_history(RECORD, "crowded", FILLER, 5, distractors=others, seed=3)
    user_texts = [m["content"] for m in history if m["role"] == "user"]
    assert user_texts[0] == "I avoid cheese." and carriers == [0]
    assert sorted(t for t in user_texts if t.startswith("I prefer colour")) == sorted(others)
    assert len(history) == 2 + 10 + 2 * 19
    assert [m["content"] for m in history if m["content"].startswith("filler")] == [m["content"] for m in FILLER]


def test_choice_history_points_at_the_users_selection() -> None:
    record = PrefEvalRecord(
        topic="t",
        index=0,
        preference="p",
        question="q",
        conversation=[
            {"role": "user", "content": "lunch?"},
            {"role": "assistant", "content": "1. salad 2. burger"},
            {"role": "user", "content": "The salad sounds good."},
            {"role": "assistant", "content": "Great."},
        ],
    )
    _, carriers = build_history(record, "choice", FILLER, 1)
    assert carriers == [2]


def test_naive_baseline_ranks_only_what_ingest_stores() -> None:
    history = [
        {"role": "user", "content": "I avoid cheese."},
        {"role": "assistant", "content": "Pizza ideas? Pizza ideas!"},  # closest to the question, never stored
        {"role": "user", "content": "Any pizza ideas for a party?"},
        {"role": "assistant", "content": "pizza ideas"},
        {"role": "user", "content": "The weather is nice."},
    ]
    order = naive_user_order(FakeEmbedder(), history, "Pizza ideas?", depth=5)
    assert sorted(order) == [0, 2, 4]  # user messages only, named by their index in the history
    assert order[0] == 2  # the user message sharing the question's words ranks first
    assert naive_user_order(FakeEmbedder(), history, "Pizza ideas?", depth=1) == [2]
    assert naive_user_order(FakeEmbedder(), [{"role": "assistant", "content": "hi"}], "hi", depth=5) == []


def test_persona_gold_is_the_user_turn_closest_to_the_preference() -> None:
    record = PrefEvalRecord(
        topic="t",
        index=0,
        preference="I love spicy Thai curry.",
        question="Dinner?",
        conversation=[
            {"role": "user", "content": "Work was long today."},
            {"role": "assistant", "content": "I love spicy Thai curry."},  # verbatim, but not the user's turn
            {"role": "user", "content": "Honestly, spicy Thai curry is what I love most."},
            {"role": "assistant", "content": "Noted."},
            {"role": "user", "content": "Anyway, see you."},
        ],
    )
    assert persona_gold(record, FakeEmbedder()) == 2
    with pytest.raises(InvalidInputError, match="no user turn"):
        persona_gold(PrefEvalRecord("t", 1, "p", "q", [{"role": "assistant", "content": "hi"}]), FakeEmbedder())


def test_report_is_one_self_contained_page(tmp_path: Path) -> None:
    charts = [
        bar_chart("bars", ["T=10", "T=100"], {"ours": [1.0, 0.5], "naive": [0.9, 0.25]}),
        line_chart("lines", [5, 10], {"ours": [0.5, 0.6]}),
    ]
    page = write_report(tmp_path / "r" / "report.html", "title", charts, {"x": 1}).read_text()
    assert page.count("<svg") == 2 and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "0.25" in page and '"x": 1' in page


def test_loaders_say_where_they_looked(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="No PrefEval files"):
        load_prefeval(tmp_path, "explicit")
    with pytest.raises(InvalidInputError, match="Unknown variant"):
        load_prefeval(tmp_path, "sideways")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="Cannot read"):
        load_locomo(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        load_locomo(tmp_path / "bad.json")
