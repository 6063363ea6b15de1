"""What every piece of user text becomes before anything reads, stores or renders it, and the decoded views
the gate also checks.

``normalize`` is applied on the write path (each turn and each remembered text) and again at render time (for
memories stored before it existed): Unicode NFKC (full-width letters and other compatibility forms become
their plain equivalents, so ``ｉｇｎｏｒｅ`` is ``ignore``), then every invisible character removed: zero-width
characters, bidirectional controls, Unicode tag characters (which can smuggle ASCII text no one sees),
variation selectors beyond the emoji ones, and control characters other than tab and line breaks. Unicode tag
characters, which can spell ASCII text no one sees, are made visible; line and paragraph separators (U+2028,
U+2029) become line breaks, which quoting escapes: the text they spell is written out in
brackets, so the gate, the classifiers and anyone inspecting the memory read what was hidden. What a person
sees is what the gate, the classifiers and the model get.

``detection_views`` gives the gate more to look at, never less: the normalized text with look-alike letters
from other scripts mapped to Latin inside mixed-script words (``іgnоrе`` with Cyrillic letters), and the decoded content of base64, URL-encoded and hex spans that decode to
readable text. The views are checked; they are never stored or shown.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import unicodedata
import urllib.parse

__all__ = ["detection_views", "normalize"]

_KEEP_CONTROLS = {"\t", "\n", "\r"}
_ASCII_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TAG_BLOCK = range(0xE0000, 0xE0080)
# Default-ignorable code points that are not format characters (Unicode's DerivedCoreProperties): the
# combining grapheme joiner, Hangul fillers, Khmer inherent vowels, Mongolian variation selectors, the
# variation selectors: invisible, and enough to split a word the gate looks for.
_DEFAULT_IGNORABLE = frozenset(
    [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0, *range(0x180B, 0x1810), *range(0xFE00, 0xFE10)]
)
_LINE_SEPARATORS = str.maketrans({"\u2028": "\n", "\u2029": "\n"})
_MAX_VIEWS = 16
_TAG_RUN = re.compile("[\U000e0000-\U000e007f]+")
_VARIATION_SUPPLEMENT = range(0xE0100, 0xE01F0)
_BASE64_SPAN = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/=_-])")
_URL_ENCODED_SPAN = re.compile(r"(?:%[0-9A-Fa-f]{2}[^\s%]{0,3}){4,}")
_HEX_SPAN = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[\s:]?){12,}(?![0-9A-Fa-f])")
_WORD = re.compile(r"\w+")

# Letters of other scripts that look like Latin ones (a subset of Unicode's confusables that covers the
# letters of common words); applied only inside words that mix scripts, so Russian or Greek text is untouched.
_CONFUSABLE = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
        "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d", "ɡ": "g", "ո": "n", "ս": "u", "ԛ": "q",
        "ԝ": "w", "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
        "Т": "T", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "α": "a", "ο": "o", "ρ": "p", "ν": "v", "τ": "t",
        "ι": "i", "κ": "k", "υ": "u", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K",
        "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    }
)  # fmt: skip


@functools.cache
def _invisible_class() -> re.Pattern[str]:
    """One character class of every invisible code point: format characters (zero-width, bidi controls,
    soft hyphen, byte order mark, ...), control characters other than tab and line breaks, the tag block
    (read before by ``_spelled``) and the variation selectors supplement. Built on first use (a scan of the
    planes that hold format characters, about 0.25 s once per process); then one regex pass strips a text, where
    a Unicode category test per character took 0.7 s of a 16 s ingest of chat traffic."""
    codes = [
        code
        for code in [*range(0x30000), *range(0xE0000, 0xE1000)]
        if code in _TAG_BLOCK
        or code in _VARIATION_SUPPLEMENT
        or code in _DEFAULT_IGNORABLE
        or unicodedata.category(chr(code)) == "Cf"
        or (unicodedata.category(chr(code)) == "Cc" and chr(code) not in _KEEP_CONTROLS)
    ]
    ranges: list[str] = []
    start = previous = codes[0]
    for code in [*codes[1:], -1]:
        if code != previous + 1:
            ranges.append(re.escape(chr(start)) + ("-" + re.escape(chr(previous)) if previous > start else ""))
            start = code
        previous = code
    return re.compile("[" + "".join(ranges) + "]")


def normalize(text: str) -> str:
    """NFKC, with invisible characters (zero-width, bidi and other format characters, tag characters, control
    characters other than tab and line breaks) removed. Idempotent."""
    if text.isascii():  # NFKC leaves ASCII as it is, and ASCII has no format characters: only controls go
        return _ASCII_CONTROL.sub("", text)
    folded = unicodedata.normalize("NFKC", text).translate(_LINE_SEPARATORS)
    if _TAG_RUN.search(folded):
        folded = _TAG_RUN.sub(_spelled, folded)
    return unicodedata.normalize("NFKC", _invisible_class().sub("", folded))


def _spelled(run: re.Match[str]) -> str:
    """What a run of Unicode tag characters spells, written out: `` [hidden text: ...] ``."""
    ascii_text = "".join(chr(ord(c) - 0xE0000) for c in run.group(0) if 0xE0020 <= ord(c) <= 0xE007E)
    return f" [hidden text: {ascii_text.strip()}] " if ascii_text.strip() else ""


def _readable(raw: bytes) -> str | None:
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    letters = sum(c.isalpha() or c.isspace() for c in decoded)
    return decoded if decoded and letters >= 0.7 * len(decoded) and any(c.isalpha() for c in decoded) else None


def _base64(span: str) -> str | None:
    padded = span + "=" * (-len(span) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None
    return _readable(raw)


def _hex(span: str) -> str | None:
    try:
        return _readable(bytes.fromhex(re.sub(r"[\s:]", "", span)))
    except ValueError:
        return None


def _deconfuse(text: str) -> str:
    if text.isascii():  # no letter of another script to map
        return text

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        latin = any("a" <= c.lower() <= "z" for c in word)
        other = any(ord(c) > 0x24F and c.isalpha() for c in word)
        return word.translate(_CONFUSABLE) if latin and other else word

    return _WORD.sub(fix, text)


def detection_views(text: str) -> list[str]:
    """The texts the gate checks for ``text``: its normalized form first, then any other view that differs
    (look-alike letters mapped to Latin, decoded base64 / URL-encoded / hex spans), at most ``_MAX_VIEWS``."""
    normal = normalize(text)
    views = [normal, _deconfuse(normal)]
    decoded: list[str | None] = []
    if "%" in normal:
        decoded += [_readable(urllib.parse.unquote_to_bytes(m.group(0))) for m in _URL_ENCODED_SPAN.finditer(normal)]
    decoded += [_base64(m.group(0)) for m in _BASE64_SPAN.finditer(normal)]
    decoded += [_hex(m.group(0)) for m in _HEX_SPAN.finditer(normal)]
    views += [d for d in decoded if d is not None]
    return [v for v in dict.fromkeys(views) if v.strip()][:_MAX_VIEWS]
