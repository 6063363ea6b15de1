"""End to end through the real bundled local LLM (SmolLM2-135M-Instruct via llama-cpp-python)."""

from __future__ import annotations

from pathlib import Path

import pytest

from palign_rag import LocalBackend, ModelNotFoundError, Personalizer, SentenceTransformerEmbedder
from palign_rag.demo import run_demo
from tests.conftest import user

pytestmark = [pytest.mark.integration, pytest.mark.llm]


def test_chat_end_to_end_with_the_local_model(home: Path, real_embedder: SentenceTransformerEmbedder) -> None:
    personalizer = Personalizer(home, embedder=real_embedder)  # nothing configured: the local model
    personalizer.remember("uma", "I always want answers that mention the colour blue.")
    result = personalizer.chat("uma", [user("Describe the sky in one sentence.")], max_tokens=24, temperature=0.0)
    assert isinstance(personalizer.backend, LocalBackend)
    assert result.content.strip()
    assert result.model.startswith("SmolLM2")
    assert [c.memory.text for c in result.trace.used()] == ["I always want answers that mention the colour blue."]
    # the model saw the whole composed prompt: policy, preference and question
    assert result.prompt_tokens is not None and result.prompt_tokens > result.trace.tokens.policy


def test_missing_model_file_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"\.gguf"):
        LocalBackend(tmp_path / "nope.gguf")


def test_demo_runs_offline_and_can_run_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_demo(home=tmp_path / "demo", max_tokens=12) == 0
    first = capsys.readouterr().out
    for name in ("[alice]", "[bob]", "[chen]", "[no personalization] reply:", "reply:"):
        assert name in first
    assert "vegan" in first and "peanut" in first and "flying" in first
    assert run_demo(home=tmp_path / "demo", max_tokens=12, use_llm=False) == 0
    again = capsys.readouterr().out
    assert "(0 new," in again
