"""API keys and the tenants they map to.

Keys come from ``PALIGN_API_KEYS`` (``key=tenant`` pairs separated by commas, or bare keys for the ``default``
tenant) or from a JSON file mapping each key to its tenant. With no key configured the server serves one
tenant (``default``) without authentication, and ``palign serve`` then refuses to bind anywhere but 127.0.0.1.
Keys are compared in constant time.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Mapping
from pathlib import Path

from ..errors import InvalidInputError

__all__ = ["ApiKeys"]


class ApiKeys:
    """Which tenant a bearer key belongs to."""

    def __init__(self, keys: Mapping[str, str] | None = None) -> None:
        self._keys = dict(keys or {})
        for key, tenant in self._keys.items():
            if not key.strip() or not tenant.strip():
                raise InvalidInputError("API keys and tenants must be non-empty strings.")

    @property
    def open(self) -> bool:
        """True when no key is configured: one tenant, no authentication, loopback only."""
        return not self._keys

    def tenant(self, key: str | None) -> str | None:
        """The tenant of ``key``, or None when it is not a valid key (``default`` when no key is configured)."""
        if self.open:
            return "default"
        if not key:
            return None
        found = None
        for known, tenant in self._keys.items():
            if hmac.compare_digest(known.encode(), key.encode()):
                found = tenant
        return found

    @property
    def tenants(self) -> list[str]:
        return sorted(set(self._keys.values())) or ["default"]

    @classmethod
    def load(cls, path: str | Path | None = None, env: Mapping[str, str] | None = None) -> ApiKeys:
        """Keys from a JSON file (``{"key": "tenant", ...}``) when given, else from ``PALIGN_API_KEYS``."""
        env = os.environ if env is None else env
        if path is not None:
            location = Path(path).expanduser()
            try:
                loaded = json.loads(location.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise InvalidInputError(
                    f'Cannot read API keys from {location}: {exc}. Write a JSON object {{"key": "tenant"}}.'
                ) from exc
            if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
                raise InvalidInputError(f"{location} must hold a JSON object mapping each key to a tenant name.")
            return cls(loaded)
        raw = env.get("PALIGN_API_KEYS", "")
        keys: dict[str, str] = {}
        for item in (part.strip() for part in raw.split(",")):
            if item:
                key, sep, tenant = item.partition("=")
                keys[key.strip()] = tenant.strip() if sep else "default"
        return cls(keys)
