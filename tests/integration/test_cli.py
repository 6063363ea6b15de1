"""The ``palign`` command, run as a user would (real embedder, real embedded Chroma)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from palign_rag.cli import main

pytestmark = pytest.mark.integration


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_is_instant_because_nothing_heavy_is_imported() -> None:
    code = (
        "import sys\n"
        "from palign_rag.cli import build_parser\n"
        "build_parser().format_help()\n"
        "heavy = [m for m in ('torch', 'chromadb', 'sentence_transformers', 'openai', 'llama_cpp') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
    help_run = subprocess.run(
        [sys.executable, "-m", "palign_rag.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert help_run.returncode == 0
    for command in ("demo", "remember", "ingest", "inspect", "chat", "memories", "forget"):
        assert command in help_run.stdout


def test_remember_list_inspect_forget(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    code, out, _ = run(capsys, "remember", "--home", home, "--user", "zoe", "I prefer metric units.", "--json")
    assert code == 0
    memory_id = json.loads(out)["id"]
    run(capsys, "remember", "--home", home, "--user", "zoe", "I avoid spicy food.")

    code, out, _ = run(capsys, "memories", "--home", home, "--user", "zoe", "--json")
    assert sorted(m["text"] for m in json.loads(out)) == ["I avoid spicy food.", "I prefer metric units."]

    code, out, _ = run(capsys, "inspect", "--home", home, "--user", "zoe", "How far is Paris from Lyon?", "--json")
    composed = json.loads(out)
    assert composed["messages"][0]["role"] == "system"
    assert composed["messages"][-1] == {"role": "user", "content": "How far is Paris from Lyon?"}
    decisions = {c["memory"]["text"]: c["decision"] for c in composed["trace"]["candidates"]}
    # units apply to every answer; a food preference is left out of a question about distances
    assert decisions == {"I prefer metric units.": "used", "I avoid spicy food.": "dropped_relevance"}
    assert composed["trace"]["tokens"]["policy"] > 0 and composed["trace"]["policy_id"] == "palign-default"

    code, out, _ = run(capsys, "inspect", "--home", home, "--user", "zoe", "How far is Paris?")
    assert "=== composed system prompt ===" in out and "I prefer metric units." in out
    assert "read as: preference" in out and "topical (food_drink) and the question does not touch it" in out
    code, out, _ = run(capsys, "memories", "--home", home, "--user", "zoe")
    assert "read as: preference" in out and "always" in out and "topical" in out

    code, out, _ = run(capsys, "forget", "--home", home, "--user", "zoe", "--id", memory_id)
    assert code == 0 and "deleted 1 memory" in out
    code, _, err = run(capsys, "forget", "--home", home, "--user", "zoe", "--id", memory_id)
    assert code == 2 and "has no memory" in err
    code, out, _ = run(capsys, "forget", "--home", home, "--user", "zoe", "--yes", "--json")
    assert json.loads(out) == {"user": "zoe", "deleted": 1}
    code, out, _ = run(capsys, "memories", "--home", home, "--user", "zoe")
    assert "no memories" in out


def test_ingest_a_file_and_refuse_a_broken_one_without_losing_anything(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    home = str(tmp_path / "home")
    good = Path(__file__).resolve().parents[2] / "examples" / "histories" / "bob.jsonl"
    code, out, _ = run(capsys, "ingest", "--home", home, "--user", "bob", str(good), "--json")
    assert code == 0 and json.loads(out)["preferences"] >= 3
    _, before, _ = run(capsys, "memories", "--home", home, "--user", "bob", "--json")

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"role": "user", "content": "I prefer tea"}\n{"role": "user", "content": \n')
    code, _, err = run(capsys, "ingest", "--home", home, "--user", "bob", str(broken))
    assert code == 2 and "line 2" in err
    code, _, err = run(capsys, "ingest", "--home", home, "--user", "bob", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "Cannot read" in err
    _, after, _ = run(capsys, "memories", "--home", home, "--user", "bob", "--json")
    assert json.loads(after) == json.loads(before)


def test_usage_errors_exit_2_with_the_fix(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "remember", "--home", str(tmp_path), "--user", "  ", "I prefer tea")
    assert code == 2 and "user id" in err
    code, _, err = run(capsys, "remember", "--home", str(tmp_path), "--user", "u", "   ")
    assert code == 2 and "empty" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["memories", "--home", str(tmp_path)])
    assert exit_info.value.code == 2


def test_quickstart_example_runs(tmp_path: Path) -> None:
    import os

    example = Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"
    env = {**os.environ, "PALIGN_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr
    assert '"I\'m allergic to peanuts."' in done.stdout
    assert "You are a cooking assistant." in done.stdout
    assert "used" in done.stdout


def test_inspect_reads_relative_time_from_at_and_shows_the_cue(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    home = str(tmp_path / "home")
    history = tmp_path / "meals.jsonl"
    rows = [
        {"role": "user", "content": "I cooked a mushroom risotto for dinner.", "created_at": "2024-05-01T19:00:00Z"},
        {"role": "user", "content": "I cooked a lentil curry for dinner.", "created_at": "2024-05-13T19:00:00Z"},
    ]
    history.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert run(capsys, "ingest", "--home", home, "--user", "cy", str(history))[0] == 0
    question = "What did I cook for dinner yesterday?"
    code, out, _ = run(capsys, "inspect", "--home", home, "--user", "cy", question, "--at", "2024-05-14T09:00:00Z")
    assert code == 0
    assert "time cue: 'yesterday': 2024-05-13 to 2024-05-13" in out
    assert out.index("lentil curry") < out.index("mushroom risotto")
    code, _, err = run(capsys, "inspect", "--home", home, "--user", "cy", question, "--at", "last tuesday")
    assert code == 2 and "ISO 8601" in err
