"""`palign eval` on a small slice of the real benchmarks (read from ../shared/bench, never copied)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from palign_rag.cli import main

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[3] / "shared" / "bench"


@pytest.fixture(scope="module")
def bench() -> Path:
    if not (BENCH / "prefeval" / "explicit_preference").is_dir():
        pytest.skip(f"benchmark data not found at {BENCH} (CI provides ../shared/bench)")
    return BENCH


def test_prefeval_explicit_slice(bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "prefeval.html"
    code = main(
        [
            "eval",
            "prefeval",
            "--data",
            str(bench / "prefeval"),
            "--turns",
            "5,20",
            "--limit",
            "2",
            "--topics",
            "travel_restaurant,lifestyle_dietary,shop_technology",
            "--json",
            "--no-progress",
            "--report",
            str(report),
        ]
    )
    figures = json.loads(capsys.readouterr().out)
    assert code == 0 and figures["variant"] == "explicit"
    assert [r["turns"] for r in figures["results"]] == [5, 20]
    for result in figures["results"]:
        assert result["records"] == 6
        # 5 of 6 at least: since session 8 one record's preference is read as a preference on the wrong subject
        # (it was an episode, found by similarity), so its question does not touch it (BENCHMARKS.md, session 8).
        # A collapse of reading or retrieval fails here.
        assert result["in_prompt"] >= 0.83  # 5 of 6 (figures are rounded to 4 places)
        assert 0.0 <= result["baseline_hit@5"] <= 1.0
    assert report.read_text().count("<svg") == 1


@pytest.mark.parametrize("variant", ["crowded", "choice", "persona"])
def test_prefeval_other_variants_run(bench: Path, variant: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "eval",
            "prefeval",
            "--data",
            str(bench / "prefeval"),
            "--variant",
            variant,
            "--turns",
            "5",
            "--limit",
            "1",
            "--topics",
            "travel_restaurant,shop_home",
            "--json",
            "--no-progress",
        ]
    )
    figures = json.loads(capsys.readouterr().out)
    [result] = figures["results"]
    assert code == 0 and result["records"] == 2 and result["variant"] == variant
    assert result["memory_budget"] == (400 if variant == "crowded" else 600)
    # the persona gold turn is picked by the bundled model, whatever embedder is evaluated
    assert figures.get("gold_reference") == ("all-MiniLM-L6-v2" if variant == "persona" else None)


def test_locomo_slice(bench: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "eval",
            "locomo",
            "--data",
            str(bench / "locomo" / "locomo_dev.json"),
            "--limit",
            "1",
            "--k",
            "5,50",
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "questions in 1 conversations" in out and "naive dense" in out and "temporal" in out


def test_bad_turns_are_a_usage_error(bench: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", "prefeval", "--data", str(bench / "prefeval"), "--turns", "ten"])
    assert code == 2 and "whole numbers" in capsys.readouterr().err
