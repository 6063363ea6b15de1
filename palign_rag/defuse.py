"""Making memory text inert before it is rendered into a prompt, whatever it contains.

This does not depend on recognising an attack (the gate's job): every memory line is passed through
``defuse`` at render time.

- **Chat-template and role tokens** of the common model families (ChatML ``<|im_start|>``, Llama 3
  ``<|eot_id|>`` / ``<|start_header_id|>``, Llama 2 and Mistral ``[INST]`` / ``<<SYS>>``, Gemma
  ``<start_of_turn>``, Phi ``<|user|>`` / ``<|end|>``, Harmony ``<|start|>`` / ``<|channel|>``, sentence
  markers ``<s>`` / ``</s>``, and any other ``<|name|>``) are rewritten as ``(name)``: a tokenizer that parses
  special tokens out of text sees plain words, and a template that splits on them finds nothing to split.
- **Links and images to outside URLs**: a markdown image a chat UI would load (``![x](https://...?d=secret)``)
  is the classic channel to send a user's data away, and so is an HTML ``<img>``. Images become
  ``[image: alt text]`` with no URL; every other URL is written defanged (``hxxps://example[.]com/...``) so
  that neither a UI nor a model repeating it produces something fetchable.
- **Markup** that a UI might interpret (``<script>``, ``<img>``, ``<iframe>`` ...) loses its angle brackets.

The result is then JSON-quoted inside a delimited data block by ``compose``.
"""

from __future__ import annotations

import re

__all__ = ["CONTROL_TOKEN", "defuse", "defuse_urls", "neutralize_tokens"]

CONTROL_TOKEN = re.compile(
    r"<\|[^|<>\s]{1,40}\|>"  # ChatML, Llama 3, Phi, Harmony and any other <|name|>
    r"|\[/?INST\]|<</?SYS>>"  # Llama 2, Mistral
    r"|</?(?:start_of_turn|end_of_turn|bos|eos|pad|unk|s|mask|sep|cls)>"  # Gemma, sentence markers
    r"|</?(?:tool_call|tool_response|function_call|think)>",  # tool-call and reasoning tags of chat templates
    re.IGNORECASE,
)
_MD_IMAGE = re.compile(r"!\[([^\]]{0,200})\]\s*\(([^)]{0,2000})\)")
_HTML_IMAGE = re.compile(r"<\s*img\b[^>]*>", re.IGNORECASE)
_HTML_ALT = re.compile(r"""\balt\s*=\s*["']?([^"'>]{0,200})""", re.IGNORECASE)
_URL = re.compile(r"\b(?:https?|ftp|wss?)://[^\s<>\"')\]]+|\bwww\.[^\s<>\"')\]]+", re.IGNORECASE)
_MARKUP = re.compile(r"<\s*(/?\s*(?:script|iframe|object|embed|style|link|meta|svg|form|input|a|img)\b[^>]*)>", re.I)


def neutralize_tokens(text: str) -> str:
    """Every chat-template or role token rewritten as ``(name)``."""
    return CONTROL_TOKEN.sub(_token_name, text)


def _token_name(match: re.Match[str]) -> str:
    name = match.group(0).strip("<>[]|/").strip("|") or "token"
    return f"({name})"


def _defang(url: str) -> str:
    """``https://example.com/p?d=1`` -> ``hxxps://example[.]com/p?d=1``: still readable, never fetched."""
    scheme, sep, after = url.partition("://")
    if not sep:  # www.example.com/...
        scheme, after = "", url
    host, slash, path = after.partition("/")
    prefix = scheme.lower().replace("tt", "xx").replace("ft", "fx").replace("ws", "wx") + "://" if sep else ""
    return f"{prefix}{host.replace('.', '[.]')}{slash}{path}"


def defuse_urls(text: str) -> str:
    """Images without their URLs; every other URL defanged."""
    text = _MD_IMAGE.sub(lambda m: f"[image: {m.group(1).strip() or 'no description'}]", text)

    def html_image(match: re.Match[str]) -> str:
        alt = _HTML_ALT.search(match.group(0))
        return f"[image: {alt.group(1).strip() if alt and alt.group(1).strip() else 'no description'}]"

    text = _HTML_IMAGE.sub(html_image, text)
    return _URL.sub(lambda m: _defang(m.group(0)), text)


def defuse(text: str) -> str:
    """Memory text made inert for a prompt: tokens neutralized, images and URLs defused, markup disarmed."""
    text = neutralize_tokens(text)
    text = defuse_urls(text)
    return _MARKUP.sub(lambda m: "(" + " ".join(m.group(1).split()) + ")", text)
