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
    r"|\[/?(?:SYSTEM_PROMPT|TOOL_CALLS|AVAILABLE_TOOLS|TOOL_RESULTS|TOOL_CONTENT|THINK)\]"  # Mistral v3+
    r"|</?(?:start_of_turn|end_of_turn|start_of_image|end_of_image|end_of_utterance|bos|eos|pad|unk|s|mask|sep"
    r"|cls|sop|eop)>"  # Gemma, SmolVLM, GLM, sentence markers
    r"|</?(?:tool_call|tool_response|function_call|think)>",  # tool-call and reasoning tags of chat templates
    re.IGNORECASE,
)
# Any all-capitals bracketed name ([SYSTEM_PROMPT], [TOOL_CALLS], ...) is a control token in some template:
# rewritten too, though only the known ones above make the gate quarantine a memory.
_BRACKETED = re.compile(r"\[/?[A-Z][A-Z_]{2,30}\]")
_MD_IMAGE = re.compile(r"!\[([^\]]{0,200})\]\s*\(([^()]{0,2000})\)")
_IMAGE_START = re.compile(r"!\[")
_HTML_IMAGE = re.compile(r"<\s*img\b[^<>]{0,1000}>", re.IGNORECASE)
_HTML_ALT = re.compile(r"""\balt\s*=\s*["']?([^"'<>]{0,200})""", re.IGNORECASE)
_URL = re.compile(
    r"\b[a-z][a-z0-9+.-]{1,15}:[/\\]{1,4}[^\s<>\"')\]]{1,2000}|\bwww\.[^\s<>\"')\]]{1,2000}", re.IGNORECASE
)  # any scheme: http(s), ftp, ws(s), ldap, smb, ...
# a host without a scheme (``//evil.test/x.png``, fetched by browsers relative to the page's scheme)
_AUTHORITY = re.compile(r"(?<![\w:/\\])[/\\]{2}(?=[\w-]+(?:\.[\w-]+)+)")
_ACTIVE_SCHEME = re.compile(r"\b(javascript|vbscript|data|file)\s*:", re.IGNORECASE)
_TAG = re.compile(r"<\s*(/?\s*[a-zA-Z][\w:-]{0,40}\b[^<>]{0,1000})>")


def neutralize_tokens(text: str) -> str:
    """Every chat-template or role token rewritten as ``(name)``."""
    return _BRACKETED.sub(_bracketed, CONTROL_TOKEN.sub(_token_name, text))


def _token_name(match: re.Match[str]) -> str:
    name = match.group(0).strip("<>[]|/").strip("|") or "token"
    return f"({name})"


def _bracketed(match: re.Match[str]) -> str:
    return f"({match.group(0).strip('[]/')})"


_DEFANGED = {"http": "hxxp:", "https": "hxxps:", "ftp": "fxp:", "ws": "wx:", "wss": "wxs:"}
_BARE_DOT = re.compile(r"(?<!\[)\.(?!\])")


def _defang(url: str) -> str:
    """``https://example.com/p?d=1`` -> ``hxxps://example[.]com/p?d=1``: still readable, never fetched."""
    url = re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*):[/\\]+", r"\1://", url)  # https:\/\/ and https:/\ too
    scheme, sep, after = url.partition("://")
    if not sep:  # www.example.com/...
        scheme, after = "", url
    host, slash, path = after.partition("/")
    safe = scheme.lower() + ":" if scheme.lower() + ":" in _DEFANGED.values() else None
    prefix = (safe or _DEFANGED.get(scheme.lower(), scheme.lower() + "[:]")) + "//" if sep else ""
    path = _URL.sub(lambda m: _defang(m.group(0)), path)  # a URL inside a URL (``?redirect=https://...``)
    return f"{prefix}{_BARE_DOT.sub('[.]', host)}{slash}{path}"


def _html_image(match: re.Match[str]) -> str:
    alt = _HTML_ALT.search(match.group(0))
    return f"[image: {alt.group(1).strip() if alt and alt.group(1).strip() else 'no description'}]"


def defuse_urls(text: str) -> str:
    """No image left (a markdown ``![`` becomes ``[image:``, an HTML ``<img>`` its alt text), every URL
    defanged, hosts without a scheme broken (``[//]evil[.]test``), active schemes disarmed
    (``javascript(blocked):``)."""

    text = _HTML_IMAGE.sub(_html_image, text)
    text = _MD_IMAGE.sub(lambda m: f"[image: {m.group(1).strip() or 'no description'}]", text)
    text = _IMAGE_START.sub("! [image: ", text)  # what the pattern above could not take whole: no image either
    text = _URL.sub(lambda m: _defang(m.group(0)), text)
    text = _AUTHORITY.sub("[//]", text)
    text = re.sub(r"\[//\]([\w-]+(?:\.[\w-]+)+)", lambda m: "[//]" + m.group(1).replace(".", "[.]"), text)
    return _ACTIVE_SCHEME.sub(lambda m: f"{m.group(1)}(blocked):", text)


def defuse(text: str) -> str:
    """Memory text made inert for a prompt: tokens neutralized, images and URLs defused, every HTML tag
    disarmed (its angle brackets become parentheses)."""
    for _ in range(4):  # nested markup (``<img src="...?m=<DATA>">``) gives up its inner layer first
        before = text
        text = _HTML_IMAGE.sub(_html_image, neutralize_tokens(text))
        text = _TAG.sub(lambda m: "(" + " ".join(m.group(1).split()) + ")", text)
        if text == before:
            break
    return defuse_urls(text)
