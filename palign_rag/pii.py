"""Offline detection and redaction of personal data in text a user writes into memory.

``find_pii`` returns the spans of six kinds of personal data; ``redact`` replaces each span with a
placeholder (``[email]``, ``[phone]``, ``[card]``, ``[iban]``, ``[ip]``, ``[national id]``). A ``PiiMatch``
holds only a kind and a span, and ``describe()`` names the kind ("a payment card number"), never the
value, so matches are safe to log or to put in an error. Pure Python and ``re``; nothing is downloaded.

What is detected, and how each candidate is validated:

* email: a practical RFC 5322 subset (dots, ``+tags``, subdomains, Unicode letters); the domain needs a
  dot and a letters-only TLD of two or more characters.
* card: 14-19 digits, bare or grouped with single spaces or hyphens; Luhn check, and the number must
  start with a known network prefix at that network's length (Visa 4: 16/19, Mastercard 51-55 and
  2221-2720: 16, Amex 34/37: 15, Discover 6011/644-649/65, JCB 3528-3589, Diners 300-305/36/38/39,
  UnionPay 62, Mir 2200-2204, Maestro 50/56-58/63/67: 16-19).
* iban: country code, two check digits and the BBAN, compact or in groups; the total length must be the
  one registered for that country (about 80 countries) and the ISO 7064 mod-97 remainder must be 1.
* ip: IPv4 with every octet 0-255 and no leading zeros; IPv6 full and compressed (``ipaddress`` decides),
  IPv4-mapped included. Unspecified, loopback, multicast and reserved addresses are skipped (0.0.0.0 and
  127.0.0.1 name no one's machine), and so is a dotted quad right after "version", "v", "build",
  "firmware" and the like.
* phone: ``+CC`` or ``00CC`` followed by 8-15 digits (E.164) in any grouping, "(0)" allowed;
  North American (555) 123-4567, 555-123-4567, 555.123.4567, 555 123 4567, 1-800-555-0199; national
  numbers with a trunk 0 grouped as their plans write them (UK 07700 900123, 020 7946 0958; FR 06 12 34 56
  78; DE 030 12345678, 030/1234567; NL 06-12345678; IT 02 1234 5678; CH 044 668 18 00); Spanish/Polish
  612 345 678. A run of digits with no separators counts only as 10-11 digits next to a phone word
  ("call", "mobile", "Handy", "móvil", ...), and not when labelled as an order, invoice, account... number.
* national_id: US SSN 123-45-6789 (area 000, 666 and 9xx, group 00 and serial 0000 rejected); UK National
  Insurance AB 12 34 56 C (the letters never issued and the prefixes BG, GB, KN, NK, NT, TN, ZZ rejected;
  suffix A-D); Spanish DNI 12345678Z and NIE X1234567L (check letter); Indian Aadhaar 2345 6789 0123 (first
  digit 2-9, Verhoeff check); Canadian SIN (Luhn) and Dutch BSN (11-check).

Digits are read as whole runs (groups joined by single separators) and a run is never split, so nothing
is read out of the middle of a tracking number, a date or an account number; dates (31.12.2024,
2024-05-01), amounts after a currency sign or before a unit ("612 345 678 inhabitants"), and numbers
labelled as something else ("Part no. 967-485-890") are left alone.

Deliberately not detected, because the shape alone says too little:

* a bare 9-digit number: an SSN only next to "SSN"/"social security", a SIN only next to "SIN"/"NAS"/"social
  insurance" (even grouped 046 454 286, which is also how Spanish phone numbers look), a BSN only next to
  "BSN"/"burgerservicenummer"; a bare or hyphenated 12-digit Aadhaar only next to "Aadhaar";
* local numbers without an area code (555-1234), short and service numbers (911, 0845 46 47), numbers
  with a country code but no "+" or "00" (447700900123), national numbers in 4-4-4 groups (serial numbers
  and licence keys look like that), hyphenated 3-3-3 numbers (part numbers);
* 13-digit Visa and 12-15-digit Maestro numbers (retired or rare, and indistinguishable from EAN-13
  barcodes), card numbers written with dots, partial card numbers ("ending in 1234");
* obfuscated addresses ("jane at example dot com"), IBANs of countries outside the table;
* names, postal addresses, dates of birth and other national ids (passports, tax ids): they need a
  language model or a context this module does not have.

Measured with ``benchmarks/bench_pii.py`` (seed 7, network disabled with ``unshare -n``): on 500 generated
sentences per kind in seven languages' frames, recall is 1.000 for every kind; the generator writes the
formats listed above, so this shows the documented formats are covered, not that unknown ones are. On
the project's 10,809 everyday sentences (``training/corpus``) 4 are flagged (rate 0.0004): three example
addresses such as landlord@example.com and one UK phone number, all genuinely PII-shaped; on 2,000
generated numeric sentences (dates, times, prices, versions, tracking and part codes, EAN-13 barcodes,
UUIDs, MAC addresses, ZIP+4, measurements) none is flagged (0 of 5,000 with seeds 1-3 as well). Median
17 µs per sentence, p95 32 µs.

Why not Presidio: measured the same way (presidio-analyzer 2.2.366 in its own virtualenv, a blank spaCy
pipeline so no model is downloaded, only the pattern and checksum recognizers for these kinds, phone
regions US GB DE FR ES IT NL IN CA CH PT). At score threshold 0 its recall is email 0.944 (tldextract
rejects addresses at public suffixes such as gov.in), phone 0.892 (phonenumbers also checks the
number is in an allocated range, which random test numbers such as area code 255 are not), card 0.754 (no 19-digit or 2-series
Mastercard numbers), iban 0.984 (no lower case), ip 1.000, national id 0.906 (no BSN, no hyphenated NIE,
no DNI with dots), and it flags 260 of the 2,000 numeric sentences (13%: digit groups read as phone
numbers, firmware versions as IP addresses, 9-digit codes as SSNs); at threshold 0.5 phone recall falls to
0 because context boosting needs a lemmatizer the blank pipeline lacks, and 61 numeric sentences are still
flagged. It takes a median 344 µs per sentence (20x slower), brings spaCy, phonenumbers and tldextract
(a 392 MB virtualenv), tries to fetch the Public Suffix List on first use and, built the default way,
tries to download a spaCy model. The six kinds here need a few hundred lines of validated patterns.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["PII_KINDS", "PiiKind", "PiiMatch", "find_pii", "redact"]

PiiKind = Literal["email", "phone", "card", "iban", "ip", "national_id"]
PII_KINDS: tuple[PiiKind, ...] = get_args(PiiKind)

_DESCRIPTIONS: dict[PiiKind, str] = {
    "email": "an email address",
    "phone": "a phone number",
    "card": "a payment card number",
    "iban": "an IBAN (bank account number)",
    "ip": "an IP address",
    "national_id": "a national identity number",
}
_PLACEHOLDERS: dict[PiiKind, str] = {
    "email": "[email]",
    "phone": "[phone]",
    "card": "[card]",
    "iban": "[iban]",
    "ip": "[ip]",
    "national_id": "[national id]",
}
# On overlapping candidates of equal length, the more specific kind wins.
_RANK: dict[PiiKind, int] = {"email": 0, "iban": 1, "card": 2, "national_id": 3, "ip": 4, "phone": 5}


@dataclass(frozen=True)
class PiiMatch:
    """One piece of personal data found in a text: its kind and its ``text[start:end]`` span.

    A match never carries the matched text, so it can be logged or put in an error message safely.
    """

    kind: PiiKind
    start: int
    end: int

    def describe(self) -> str:
        """What was found, in words, without the value itself: ``"a payment card number"``."""
        return _DESCRIPTIONS[self.kind]


# ---------------------------------------------------------------------------------------------- checksums


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def _verhoeff_ok(digits: str) -> bool:
    check = 0
    for index, char in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[index % 8][int(char)]]
    return check == 0


def _bsn_ok(digits: str) -> bool:
    """Dutch "elfproef": 9*d1 + 8*d2 + ... + 2*d8 - d9 is a multiple of 11."""
    total = sum(weight * int(char) for weight, char in zip(range(9, 1, -1), digits[:8])) - int(digits[8])
    return total % 11 == 0 and digits != "000000000"


def _iban_ok(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


# ---------------------------------------------------------------------------------------------- email

_EMAIL_RE = re.compile(
    r"(?<![\w.+\-!#$%&*=?^~])"
    r"[\w!#$%&*+=?^~\-]+(?:\.[\w!#$%&*+=?^~\-]+)*"
    r"@(?:[^\W_](?:[\w\-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}"
    r"(?![\w\-@])(?!\.[^\W_])"
)


def _emails(text: str) -> Iterable[tuple[PiiKind, int, int]]:
    for m in _EMAIL_RE.finditer(text):
        yield "email", m.start(), m.end()


# ---------------------------------------------------------------------------------------------- IBAN

# Total IBAN length per country (ISO 13616 registry).
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
_IBAN_RE = re.compile(r"(?<![\w])([A-Za-z]{2})(\d{2})((?:[ \u00a0\-]?[A-Za-z0-9]){11,32})")


def _ibans(text: str) -> Iterable[tuple[PiiKind, int, int]]:
    for m in _IBAN_RE.finditer(text):
        length = _IBAN_LENGTHS.get(m.group(1).upper())
        if length is None:
            continue
        # Walk the candidate until it holds exactly as many characters as the country's IBAN has;
        # the span must then end at a word boundary (so "...7654 32 is" ends after "32").
        chars = [m.group(1).upper(), m.group(2)]
        count = 4
        end = m.end(2)
        for pos in range(m.start(3), m.end(3)):
            char = text[pos]
            if char.isalnum():
                chars.append(char.upper())
                count += 1
                if count == length:
                    end = pos + 1
                    break
        if count != length or (end < len(text) and text[end].isalnum()):
            continue
        if _iban_ok("".join(chars)):
            yield "iban", m.start(), end


# ---------------------------------------------------------------------------------------------- IP

_IPV4_RE = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w])(?!\.\d)")
_IPV6_RE = re.compile(r"(?<![\w:.])(?=[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:)[0-9A-Fa-f:.]+")
_VERSION_BEFORE = re.compile(
    r"(?:\bv|\bversion|\bver|\brelease|\bbuild|\bfirmware|\bpatch|\bversi[oó]n|\bversione|\bversie)\.?\s*(?:[:=#]\s*)?$",
    re.IGNORECASE,
)


def _ip_is_personal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # 0.0.0.0, 127.0.0.1, ::1, multicast and reserved ranges name no one's machine.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:203.0.113.7 is that IPv4 address
    return not (address.is_unspecified or address.is_loopback or address.is_multicast or address.is_reserved)


def _ips(text: str) -> Iterable[tuple[PiiKind, int, int]]:
    for m in _IPV4_RE.finditer(text):
        octets = m.group().split(".")
        if any(len(octet) > 1 and octet[0] == "0" for octet in octets):
            continue  # "01.02.03.04" is not how addresses are written
        if any(int(octet) > 255 for octet in octets):
            continue
        if _VERSION_BEFORE.search(text, max(0, m.start() - 24), m.start()):
            continue
        if _ip_is_personal(ipaddress.IPv4Address(m.group())):
            yield "ip", m.start(), m.end()
    for m in _IPV6_RE.finditer(text):
        candidate = m.group()
        end = m.end()
        # Sentence punctuation ("... fe80::1." or "2001:db8::1:") is not part of the address.
        while candidate and candidate[-1] in ".:" and not candidate.endswith("::"):
            candidate = candidate[:-1]
            end -= 1
        if end < len(text) and (text[end].isalnum() or text[end] == "_"):
            continue
        if not any(char.isdigit() for char in candidate):
            continue
        try:
            address = ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        if _ip_is_personal(address):
            yield "ip", m.start(), end


# ---------------------------------------------------------------------------------------------- national ids with letters

_NINO_RE = re.compile(r"(?<![\w])([A-Za-z]{2}) ?(\d{2}) ?(\d{2}) ?(\d{2}) ?([A-Da-d])(?![\w])")
_NINO_BAD_PREFIXES = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
_DNI_RE = re.compile(
    r"(?<![\w.])(?:([XYZxyz])-?(\d{7})|(\d{8}|\d{2}\.\d{3}\.\d{3}))[ \u00a0]?-?[ \u00a0]?([A-Za-z])(?![\w])"
)
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def _letter_ids(text: str) -> Iterable[tuple[PiiKind, int, int]]:
    for m in _NINO_RE.finditer(text):
        prefix = m.group(1).upper()
        if prefix[0] in "DFIQUV" or prefix[1] in "DFIOQUV" or prefix in _NINO_BAD_PREFIXES:
            continue
        yield "national_id", m.start(), m.end()
    for m in _DNI_RE.finditer(text):
        nie_letter, nie_digits, dni_digits, check = m.groups()
        number = (
            int(str("XYZ".index(nie_letter.upper())) + nie_digits) if nie_letter else int(dni_digits.replace(".", ""))
        )
        if _DNI_LETTERS[number % 23] == check.upper():
            yield "national_id", m.start(), m.end()


# ---------------------------------------------------------------------------------------------- digit runs

# A "run" is a maximal sequence of digit groups joined by single separators, with an optional leading
# "+" and parenthesised groups: "+44 (0)20 7946 0958", "4111-1111-1111-1111", "123-45-6789". Each run is
# classified as a whole -- card, then national id, then phone -- and never split, so a digit group is
# never read out of the middle of a longer number (a tracking code, an account number, a date).
_SEP = r"(?:[ \u00a0]?[\-./\u2010-\u2013][ \u00a0]?|[ \u00a0])"
_PAREN = r"\([ \u00a0]?\d{1,5}[ \u00a0]?\)"
_RUN_RE = re.compile(
    r"(?<![\w+])(?<!\w[\-/])(?<!\d[.,\u00a0 ])"
    rf"(?:\(\+\d{{1,3}}\)[ \u00a0]?\d+|(?:\+[ \u00a0]?)?(?:{_PAREN}|\d+))"
    rf"(?:{_SEP}\d+|{_SEP}?{_PAREN}|(?<=\))\d+)*"
    r"(?P<ext>[ \u00a0]?(?:x|ext\.?|extn\.?)[ \u00a0]?\d{1,5})?"
    rf"(?![\w+])(?!{_SEP}\(?\d)"
)
_TOKEN_RE = re.compile(r"(\D*)(\d+)")

_SSN_CONTEXT = re.compile(r"\bSSN\b|social[ -]security", re.IGNORECASE)
# "SIN" and "NAS" count in capitals only: "sin" is Spanish for "without".
_SIN_CONTEXT = re.compile(r"\bSIN\b|\bNAS\b|(?i:social[ -]insurance|assurance[ -]sociale)")
_BSN_CONTEXT = re.compile(
    r"\bBSN\b|burger[ -]?service[ -]?nummer|citizen service number|\bsofi[ -]?nummer", re.IGNORECASE
)
_AADHAAR_CONTEXT = re.compile(r"aadhaa?r|\bUIDAI?\b|आधार", re.IGNORECASE)
_PHONE_CONTEXT = re.compile(
    r"phone|\btel\b|\btel\.|\bmobile|\bcell|\bcall|\bring\b|\btext me|whats ?app|signal|\bsms\b|\bfax|"
    r"\bmy number|number is|\btelefon|\bhandy|rufnummer|\banruf|\bt[ée]l[ée]phone|\bportable|\bappel|"
    r"\bmon num[ée]ro|\btel[ée]fono|\bm[óo]vil|\bll[áa]ma|\bmi n[úu]mero|\bcellulare|\bchiama|"
    r"\bil mio numero|\btelefoon|\bmobiel|\bbel me|\bmijn nummer|\btext\b|\bthis number|\bthe number\b|\bnumber:",
    re.IGNORECASE,
)
# ...unless the number is named as something else: "order number 5551234567" is not a phone number.
_NOT_PHONE_CONTEXT = re.compile(
    r"\b(?:order|invoice|tracking|account|acct|reference|ref|serial|customer|ticket|booking|confirmation|case|"
    r"policy|membership|transaction|parcel|shipment|receipt|pedido|factura|commande|facture|bestell|rechnung|"
    r"kunden|ordine|fattura|bestelling)",
    re.IGNORECASE,
)
# A number labelled as something else right before it: "Part no. 967 485 890", "Invoice #555-123-4567".
_OTHER_LABEL_BEFORE = re.compile(
    r"\b(?:order|invoice|tracking|account|acct|reference|ref|serial|part|item|product|model|sku|article|art|batch|"
    r"lot|customer|ticket|booking|confirmation|case|policy|member(?:ship)?|transaction|parcel|shipment|receipt|"
    r"licen[cs]e|key|code|zip|postcode|isbn|pedido|factura|commande|facture|bestellung|rechnung|kunden|ordine|"
    r"fattura|bestelling|artikel)\.?\s*(?:no\.?|nr\.?|num\.?|number|id|#)?\s*[:#]?\s*$",
    re.IGNORECASE,
)
_CURRENCY_BEFORE = re.compile(r"[$€£¥₹]\s?$|\b(?:EUR|USD|GBP|CHF)\s?$", re.IGNORECASE)
_QUANTITY_AFTER = re.compile(
    r"^\s?(?:%|[$€£¥₹]|(?:eur|euros?|usd|dollars?|pounds?|gbp|chf|yen|rupees?|km|kg|mi|miles|m|g|t|l|ml|"
    r"bytes?|[kmgt]i?b|people|persons?|personnes?|personas|habitant(?:e)?s?|einwohner|inhabitants|users?|"
    r"visitors?|views?|rows?|records?|items?|units?|copies|votes?|steps?|words?)\b)",
    re.IGNORECASE,
)


def _context(text: str, start: int, end: int, pattern: re.Pattern[str], before: int = 48, after: int = 24) -> bool:
    return bool(pattern.search(text, max(0, start - before), start) or pattern.search(text, end, end + after))


def _labelled_as_other(text: str, start: int) -> bool:
    return bool(_OTHER_LABEL_BEFORE.search(text, max(0, start - 32), start))


def _bare_phone_context(text: str, start: int, end: int) -> bool:
    return _context(text, start, end, _PHONE_CONTEXT) and not _context(text, start, end, _NOT_PHONE_CONTEXT, 32, 0)


def _looks_like_date(groups: list[str], seps: list[str]) -> bool:
    """Three groups in a row that read as a date: 31.12.2024, 12/31/24, 2024-05-01."""
    marks = [sep.strip() for sep in seps]
    for i in range(len(groups) - 2):
        a, b, c = groups[i : i + 3]
        mark = marks[i]
        if mark not in {".", "/", "-"} or marks[i + 1] != mark:
            continue
        if (i > 0 and marks[i - 1] == mark) or (i + 2 < len(marks) and marks[i + 2] == mark):
            continue  # a date has three parts: 06.12.34.56.78 is a French phone number, not a date
        if len(a) == 4 and len(b) <= 2 and len(c) <= 2 and 1 <= int(b) <= 12 and 1 <= int(c) <= 31:
            return True
        if len(a) <= 2 and len(b) <= 2 and len(c) in (2, 4) and 1 <= int(a) <= 31 and 1 <= int(b) <= 31:
            return True
    return False


def _card_ok(digits: str) -> bool:
    n = len(digits)
    if not 14 <= n <= 19 or not _luhn_ok(digits):
        return False
    two, four, six = int(digits[:2]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4":  # Visa (the retired 13-digit numbers read like EAN-13 barcodes, so they don't count)
        return n in (16, 19)
    if 51 <= two <= 55 or 2221 <= four <= 2720:  # Mastercard
        return n == 16
    if two in (34, 37):  # American Express
        return n == 15
    if four == 6011 or two == 65 or 644 <= int(digits[:3]) <= 649 or 622126 <= six <= 622925:  # Discover
        return 16 <= n <= 19
    if 3528 <= four <= 3589:  # JCB
        return 16 <= n <= 19
    if 300 <= int(digits[:3]) <= 305 or two in (36, 38, 39):  # Diners Club
        return 14 <= n <= 19
    if two == 62:  # UnionPay
        return 16 <= n <= 19
    if 2200 <= four <= 2204:  # Mir
        return 16 <= n <= 19
    # Maestro
    return two in (50, 56, 57, 58, 63, 67) and 16 <= n <= 19


def _national_id_ok(text: str, start: int, end: int, groups: list[str], seps: list[str]) -> bool:
    digits = "".join(groups)
    sizes = [len(group) for group in groups]
    plain_seps = {sep.strip() or " " for sep in seps}
    n = len(digits)
    if n == 9:
        # US SSN: 123-45-6789 (or with spaces); a bare 9-digit number only next to "SSN".
        if (sizes == [3, 2, 4] and len(plain_seps) == 1 and plain_seps <= {"-", " "}) or (
            sizes == [9] and _context(text, start, end, _SSN_CONTEXT)
        ):
            area, group, serial = int(digits[:3]), int(digits[3:5]), int(digits[5:])
            if area not in (0, 666) and area < 900 and group != 0 and serial != 0:
                return True
        # Canadian SIN (Luhn) and Dutch BSN (11-check): nine digits look like too many other things
        # (a Spanish or Polish phone number is 3-3-3 too), so these need the name of the id nearby.
        sin_shape = sizes in ([3, 3, 3], [9]) and plain_seps <= {"-", " "}
        if sin_shape and _luhn_ok(digits) and _context(text, start, end, _SIN_CONTEXT):
            return True
        if sizes in ([9], [4, 2, 3], [3, 3, 3]) and _bsn_ok(digits) and _context(text, start, end, _BSN_CONTEXT):
            return True
    if n == 12 and digits[0] not in "01" and _verhoeff_ok(digits):
        # Indian Aadhaar: 1234 5678 9012 on its own; hyphenated or bare (like so many serial numbers and
        # licence keys) only next to "Aadhaar".
        if sizes == [4, 4, 4] and plain_seps == {" "} and not _labelled_as_other(text, start):
            return True
        if sizes in ([12], [4, 4, 4]) and plain_seps <= {"-", " "} and _context(text, start, end, _AADHAAR_CONTEXT):
            return True
    return False


def _phone_ok(
    text: str, start: int, end: int, run: str, groups: list[str], seps: list[str], trunks: list[bool]
) -> bool:
    sizes = [len(group) for group in groups]
    digits = "".join(groups)
    marks = {sep.strip(" \u00a0()") for sep in seps} - {""}
    if len(marks) > 1:
        return False  # "12-34.56" mixes separators; phone numbers don't
    if not run.startswith(("+", "(+")) and "4,4,4" in ",".join(map(str, sizes)):
        return False  # no numbering plan writes 4-4-4; serial numbers and licence keys do
    if run.startswith(("+", "(+")) or (digits.startswith("00") and len(groups) > 1 and len(groups[0]) >= 3):
        # International: +CC ... or 00CC ..., 8 to 15 digits (E.164) once a "(0)" trunk digit is dropped.
        number = "".join(group for group, trunk in zip(groups, trunks) if not trunk)
        if number.startswith("00"):
            number = number[2:]
        return 8 <= len(number) <= 15 and number[0] != "0" and not _looks_like_date(groups, seps)
    if _CURRENCY_BEFORE.search(text, max(0, start - 5), start) or _QUANTITY_AFTER.search(text[end : end + 16]):
        return False
    if _labelled_as_other(text, start):
        return False
    if _looks_like_date(groups, seps):
        return False
    n = len(digits)
    if digits[0] == "0":
        # National numbers with a trunk 0: UK 07700 900123 / 020 7946 0958, FR 06 12 34 56 78,
        # DE 030 12345678 / 0151 23456789, NL 06-12345678, IT 02 1234 5678, CH 044 668 18 00.
        if digits.startswith("00") or not 9 <= n <= 12 or (n == 9 and len(groups) < 4):
            return False  # nine digits only as 02 123 45 67 (Belgium): 03827-5360 is a ZIP+4 code
        if len(groups) == 1:
            return 10 <= n <= 11 and _bare_phone_context(text, start, end)
        if len(groups) >= 5:
            return all(size == 2 for size in sizes) and n == 10
        return 2 <= sizes[0] <= 5 and all(size >= 2 for size in sizes[1:])
    if n == 10 and digits[0] in "23456789":
        # North American (555) 123-4567, 555-123-4567, 555.123.4567; bare only next to a phone word.
        if sizes == [3, 3, 4]:
            return True
        return sizes == [10] and _bare_phone_context(text, start, end)
    if n == 11 and digits[0] == "1" and sizes == [1, 3, 3, 4]:
        return True  # 1-800-555-0199
    # Spanish 612 345 678 / 912 34 56 78, Polish 512 345 678, written with spaces (967-485-890 is a part number).
    return n == 9 and digits[0] in "56789" and sizes in ([3, 3, 3], [3, 2, 2, 2]) and marks == set()


def _runs(text: str) -> Iterable[tuple[PiiKind, int, int]]:
    for m in _RUN_RE.finditer(text):
        extension = m.group("ext")
        run = m.group()[: m.start("ext") - m.start()] if extension else m.group()
        tokens = _TOKEN_RE.findall(run)
        groups = [group for _, group in tokens]
        digits = "".join(groups)
        if len(digits) < 8:
            continue
        # The separator before each group after the first, and which groups are a "(0)" trunk digit.
        seps = [before for before, _ in tokens[1:]]
        trunks = [before.rstrip(" \u00a0").endswith("(") and group == "0" for before, group in tokens]
        start, end = m.start(), m.end()
        plain = "+" not in run and "(" not in run and not extension
        if plain and {sep.strip() or " " for sep in seps} <= {"-", " "} and _card_ok(digits):
            yield "card", start, end
        elif plain and _national_id_ok(text, start, end, groups, seps):
            yield "national_id", start, end
        elif _phone_ok(text, start, start + len(run), run, groups, seps, trunks):  # "x89": an extension
            yield "phone", start, end


# ---------------------------------------------------------------------------------------------- public API


def find_pii(text: str, kinds: Iterable[PiiKind] = PII_KINDS) -> list[PiiMatch]:
    """Every piece of personal data of the given kinds in ``text``, in order, never overlapping.

    Where two candidates overlap, the longer one wins, and on equal length the more specific kind
    (email, IBAN, card, national id, IP, then phone). Runs offline, in microseconds per sentence.
    """
    wanted = set(kinds)
    unknown = wanted - set(PII_KINDS)
    if unknown:
        raise ValueError(f"unknown PII kind(s) {sorted(unknown)}; choose from {list(PII_KINDS)}")
    if not text or not wanted:
        return []
    candidates: list[tuple[PiiKind, int, int]] = []
    if "@" in text:
        candidates.extend(_emails(text))
    candidates.extend(_ibans(text))
    candidates.extend(_ips(text))
    candidates.extend(_letter_ids(text))
    candidates.extend(_runs(text))
    candidates.sort(key=lambda c: (c[1] - c[2], _RANK[c[0]], c[1]))
    # Chosen spans never overlap, so sorted by start a newcomer need only be checked against its two neighbours.
    starts: list[int] = []
    chosen: list[PiiMatch] = []
    for kind, start, end in candidates:
        index = bisect.bisect_left(starts, start)
        if index > 0 and chosen[index - 1].end > start:
            continue
        if index < len(chosen) and chosen[index].start < end:
            continue
        starts.insert(index, start)
        chosen.insert(index, PiiMatch(kind, start, end))
    return [match for match in chosen if match.kind in wanted]


def redact(text: str, matches: Sequence[PiiMatch] | None = None) -> str:
    """``text`` with each match replaced by a placeholder such as ``[email]`` or ``[national id]``.

    With ``matches=None`` the text is scanned with ``find_pii`` first. Everything outside the matched
    spans is kept exactly as it was.
    """
    if matches is None:
        matches = find_pii(text)
    pieces: list[str] = []
    cursor = 0
    for match in sorted(matches, key=lambda m: m.start):
        if match.start < cursor:
            continue  # overlapping spans: the earlier one already covers this text
        pieces.append(text[cursor : match.start])
        pieces.append(_PLACEHOLDERS[match.kind])
        cursor = match.end
    pieces.append(text[cursor:])
    return "".join(pieces)
