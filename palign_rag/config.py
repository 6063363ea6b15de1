"""Settings: explicit arguments first, ``PALIGN_*`` (and ``OPENAI_*``) environment variables as fallback."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, Field

from .errors import InvalidInputError

__all__ = ["BackendName", "Settings", "default_home"]

BackendName = Literal["local", "openai"]
PiiMode = Literal["redact", "keep", "refuse"]


def default_home(env: Mapping[str, str] | None = None) -> Path:
    """Where the embedded store lives: ``$PALIGN_HOME``, else ``~/.palign``."""
    env = os.environ if env is None else env
    value = env.get("PALIGN_HOME")
    return Path(value).expanduser() if value else Path.home() / ".palign"


class Settings(BaseModel):
    """Resolved configuration of a ``Personalizer`` and the CLI."""

    home: Path
    backend: BackendName = "local"
    model: str | None = None
    """Model name for the OpenAI-compatible backend, or a GGUF path for the local one."""
    base_url: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    memory_budget: int = Field(default=600, gt=0)
    """Tokens the preference and memory sections may take together."""
    max_episodes: int = Field(default=8, ge=0)
    min_episode_similarity: float = 0.25
    pii: PiiMode = "redact"
    """What happens to personal data (emails, phone and card numbers, IBANs, IP addresses, national ids) in
    text about to be stored: ``redact`` (default), ``keep``, or ``refuse`` (``PALIGN_PII``)."""

    @classmethod
    def resolve(
        cls,
        *,
        home: str | Path | None = None,
        backend: str | None = None,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        pii: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Build settings from arguments, falling back to the environment."""
        env = os.environ if env is None else env
        chosen = backend or env.get("PALIGN_BACKEND") or ""
        if not chosen:
            # An OpenAI-compatible endpoint configured in the environment wins over the local default.
            chosen = "openai" if env.get("OPENAI_BASE_URL") else "local"
        if chosen not in ("local", "openai"):
            raise InvalidInputError(
                f"Unknown backend {chosen!r}: set PALIGN_BACKEND (or --backend) to 'local' or 'openai'."
            )
        budget_raw = env.get("PALIGN_MEMORY_BUDGET")
        extra: dict[str, int] = {}
        if budget_raw:
            try:
                extra["memory_budget"] = int(budget_raw)
            except ValueError:
                raise InvalidInputError(
                    f"PALIGN_MEMORY_BUDGET must be a whole number of tokens, got {budget_raw!r}."
                ) from None
        pii_mode = pii or env.get("PALIGN_PII") or "redact"
        if pii_mode not in get_args(PiiMode):
            raise InvalidInputError(
                f"Unknown PII mode {pii_mode!r}: set PALIGN_PII (or pii=) to redact, keep or refuse."
            )
        return cls(
            pii=pii_mode,  # type: ignore[arg-type]
            home=Path(home).expanduser() if home is not None else default_home(env),
            backend=chosen,  # type: ignore[arg-type]
            model=model or env.get("PALIGN_MODEL") or None,
            base_url=base_url or env.get("OPENAI_BASE_URL") or None,
            api_key=api_key or env.get("OPENAI_API_KEY") or None,
            **extra,
        )
