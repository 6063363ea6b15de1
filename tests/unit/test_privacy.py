"""Personal data at write time: redacted by default, kept or refused by configuration, never lost silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from palign_rag import FakeEmbedder, PersonalDataError, Personalizer, Settings
from tests.conftest import RecordingBackend, assistant, user

CARD = "4111 1111 1111 1111"
EMAIL = "ana.lopez@example.com"


def _personalizer(home: Path, mode: str) -> Personalizer:
    settings = Settings.resolve(home=home, pii=mode, env={})
    return Personalizer(settings=settings, embedder=FakeEmbedder(), backend=RecordingBackend())


def test_personal_data_is_redacted_before_it_is_stored_by_default(tmp_path: Path) -> None:
    personalizer = _personalizer(tmp_path, "redact")
    stated = personalizer.remember("ana", f"Send summaries to {EMAIL}, I prefer email.")
    assert EMAIL not in stated.text and "[email]" in stated.text
    report = personalizer.ingest(
        "ana", [assistant(f"Shall I charge card {CARD}?"), user(f"Yes, card {CARD} is fine, thanks.")]
    )
    assert report.redacted == 2  # the user's turn and the assistant words it answers
    stored = " ".join(f"{m.text} {m.context or ''}" for m in personalizer.memories("ana"))
    assert CARD not in stored and "[card]" in stored
    prompt = personalizer.compose("ana", [user(f"Which card is {CARD}?")]).system_prompt
    assert CARD not in prompt and EMAIL not in prompt


def test_refuse_stores_nothing_from_the_call_and_names_the_kind_not_the_value(tmp_path: Path) -> None:
    personalizer = _personalizer(tmp_path, "refuse")
    personalizer.remember("ana", "I prefer short answers.")
    with pytest.raises(PersonalDataError, match="payment card") as caught:
        personalizer.ingest("ana", [user("Lovely weather."), user(f"My card is {CARD}.")])
    assert CARD not in str(caught.value) and "messages[1]" in str(caught.value)
    with pytest.raises(PersonalDataError, match="email"):
        personalizer.remember("ana", f"Write to me at {EMAIL}.")
    assert [m.text for m in personalizer.memories("ana")] == ["I prefer short answers."]


def test_keep_stores_text_as_written(tmp_path: Path) -> None:
    personalizer = _personalizer(tmp_path, "keep")
    assert EMAIL in personalizer.remember("ana", f"Send summaries to {EMAIL}.").text


def test_an_unknown_mode_says_which_ones_exist(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="redact, keep or refuse"):
        Settings.resolve(home=tmp_path, pii="hide", env={})
    with pytest.raises(ValueError, match="redact, keep or refuse"):
        Settings.resolve(home=tmp_path, env={"PALIGN_PII": "hide"})


def test_personal_data_hidden_by_invisible_or_full_width_characters_is_still_found(tmp_path: Path) -> None:
    personalizer = _personalizer(tmp_path, "redact")
    report = personalizer.ingest(
        "ana", [user("card 4111\u200b 1111 1111 1111 and mail ａｎａ＠example.com, remember them")]
    )
    assert report.redacted == 2
    stored = " ".join(m.text for m in personalizer.memories("ana"))
    assert "4111 1111" not in stored and "example.com" not in stored


def test_refuse_checks_only_what_would_be_stored(tmp_path: Path) -> None:
    personalizer = _personalizer(tmp_path, "refuse")
    # the assistant's last message answers no user turn and assistant turns are not ingested: nothing to refuse
    personalizer.ingest("ana", [user("Hello, I like tea."), assistant(f"The receipt went to {EMAIL}.")])
    assert all(EMAIL not in m.text for m in personalizer.memories("ana"))
