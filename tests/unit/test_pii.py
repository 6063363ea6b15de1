"""Offline PII detection and redaction: what a user writing memories would notice."""

from __future__ import annotations

import itertools

import pytest

from palign_rag.pii import PII_KINDS, PiiKind, PiiMatch, find_pii, redact


def kinds_and_values(text: str) -> list[tuple[str, str]]:
    return [(m.kind, text[m.start : m.end]) for m in find_pii(text)]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        (
            "You can email me at jane.doe+news@mail.example.co.uk if it changes.",
            "email",
            "jane.doe+news@mail.example.co.uk",
        ),
        ("Contact: <Anna.Smith@Example.COM>", "email", "Anna.Smith@Example.COM"),
        ("Call me on (555) 123-4567 after six.", "phone", "(555) 123-4567"),
        ("The plumber is 555-123-4567, he's cheap.", "phone", "555-123-4567"),
        ("My mobile is 07700 900123.", "phone", "07700 900123"),
        ("The office line is 020 7946 0958.", "phone", "020 7946 0958"),
        ("From abroad dial +44 (0)20 7946 0958.", "phone", "+44 (0)20 7946 0958"),
        ("Tu peux m'appeler au 06 12 34 56 78 ce soir.", "phone", "06 12 34 56 78"),
        ("Meine Nummer: +49 30 12345678", "phone", "+49 30 12345678"),
        ("Mi número es 612 345 678, llámame.", "phone", "612 345 678"),
        ("Text 5551234567 when you land.", "phone", "5551234567"),
        ("My card number is 4111 1111 1111 1111, expiry 09/27.", "card", "4111 1111 1111 1111"),
        ("Charge it to 5555-5555-5555-4444 please.", "card", "5555-5555-5555-4444"),
        ("The Amex is 3782 822463 10005.", "card", "3782 822463 10005"),
        ("My IBAN is GB82 WEST 1234 5698 7654 32, pay the rent there.", "iban", "GB82 WEST 1234 5698 7654 32"),
        ("Bitte überweise an DE89370400440532013000.", "iban", "DE89370400440532013000"),
        ("My home IP is 203.0.113.7, whitelist it.", "ip", "203.0.113.7"),
        ("The server at 2001:db8::8a2e:370:7334 keeps timing out.", "ip", "2001:db8::8a2e:370:7334"),
        ("Connecting to [fe80::1ff:fe23:4567:890a]:443 failed", "ip", "fe80::1ff:fe23:4567:890a"),
        ("My SSN is 123-45-6789.", "national_id", "123-45-6789"),
        ("SSN: 123456789", "national_id", "123456789"),
        ("My NI number is AB 12 34 56 C.", "national_id", "AB 12 34 56 C"),
        ("Mi DNI es 12345678Z.", "national_id", "12345678Z"),
        ("Mi NIE es X1234567L.", "national_id", "X1234567L"),
        ("My SIN is 046 454 286.", "national_id", "046 454 286"),
        ("Mijn BSN is 111222333.", "national_id", "111222333"),
    ],
)
def test_each_kind_is_found_in_a_sentence(text: str, kind: str, value: str) -> None:
    assert kinds_and_values(text) == [(kind, value)]


def test_aadhaar_is_found_when_grouped_and_checked_by_verhoeff() -> None:
    # 2363 is the textbook Verhoeff example (236 with check digit 3); build a 12-digit number the same way.
    from palign_rag.pii import _verhoeff_ok

    assert _verhoeff_ok("2363") and not _verhoeff_ok("2364")
    body = "23456789012"
    number = next(body + d for d in "0123456789" if _verhoeff_ok(body + d))
    grouped = f"{number[:4]} {number[4:8]} {number[8:]}"
    assert kinds_and_values(f"My Aadhaar is {grouped}.") == [("national_id", grouped)]
    wrong = grouped[:-1] + str((int(grouped[-1]) + 1) % 10)
    assert find_pii(f"My Aadhaar is {wrong}.") == []


@pytest.mark.parametrize(
    "text",
    [
        "Card 4111 1111 1111 1112 was declined.",  # fails Luhn by one digit
        "Card 1234 5678 9012 3456 was declined.",  # no card network starts with 1
        "My IBAN is GB83 WEST 1234 5698 7654 32.",  # wrong check digits
        "My IBAN is GB82 WEST 1234 5698 7654 3.",  # one character short for a British IBAN
        "My SSN is 000-12-3456.",  # area 000 is never issued
        "My SSN is 666-12-3456.",  # nor 666
        "My SSN is 900-12-3456.",  # nor 9xx
        "My SSN is 123-00-6789.",  # nor group 00
        "My SSN is 123-45-0000.",  # nor serial 0000
        "Mi DNI es 12345678A.",  # the check letter for 12345678 is Z
        "My NI number is QQ 12 34 56 C.",  # Q is never a first letter
        "My NI number is GB 12 34 56 C.",  # GB is not allocated
        "My SIN is 046 454 287.",  # fails Luhn
        "Mijn BSN is 111222334.",  # fails the 11-check
        "Ping 256.1.1.1 please.",  # octet over 255
    ],
)
def test_checksums_reject_near_misses(text: str) -> None:
    assert find_pii(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "The meeting moved to 2024-05-01 at 14:30.",
        "Invoice dated 01/05/2024 12:30, paid 31.12.2024.",
        "Born in 1962, married in 1985, retired 2024.",
        "It costs $1,299.99, or 1 500 000 € for the house.",
        "The population is 612 345 678 inhabitants.",
        "Train leaves at 14:10:05 and arrives 16:45.",
        "Upgrade to version 1.2.3.4 first; I'm on v3.10.4 and Python 3.11.7.",
        "Order #4410012345 shipped; ref ORD-2024-00123, order number 5551234567.",
        "Tracking 1Z999AA10123456784 and USPS 9400 1000 0000 0000 0000 00.",
        "Call 555-1234 from inside, or extension 4021.",
        "Part no. 967-485-890 and 0765-5954-3962 in the catalogue.",
        "Zip 90210-1234, ISBN 978-3-16-148410-0, score 3-1.",
        "Product code 4006381333931 on the barcode.",
        "Bind for 0.0.0.0:5432 failed; redis on 127.0.0.1:6379.",
        "Use std::vector, 12:30:45 and MAC 00:1A:2B:3C:4D:5E.",
        "Request uuid 123e4567-e89b-12d3-a456-426614174000 failed.",
        "I ran 10.5 km in 52:10 min, box is 30 x 40 x 50 cm.",
        "Don't @ me about it.",
    ],
)
def test_ordinary_numbers_are_left_alone(text: str) -> None:
    assert find_pii(text) == []
    assert redact(text) == text


def test_redaction_keeps_the_rest_of_the_sentence() -> None:
    text = "Hi! Mail jane@example.org or call +1 555 123 4567; card 4111111111111111 (expires 09/27)."
    assert redact(text) == "Hi! Mail [email] or call [phone]; card [card] (expires 09/27)."


def test_every_kind_has_its_placeholder() -> None:
    text = "a@example.com, 555-123-4567, 4111 1111 1111 1111, GB82 WEST 1234 5698 7654 32, 198.51.100.4, 123-45-6789"
    assert redact(text) == "[email], [phone], [card], [iban], [ip], [national id]"


@pytest.mark.parametrize(
    "text",
    [
        "My card number is 4111 1111 1111 1111.",
        "Email jane.doe@example.com today.",
        "SSN 123-45-6789",
        "IBAN GB82 WEST 1234 5698 7654 32",
        "Phone 07700 900123",
        "IP 203.0.113.7",
    ],
)
def test_describe_never_contains_the_matched_text(text: str) -> None:
    (match,) = find_pii(text)
    value = text[match.start : match.end]
    description = match.describe()
    assert description and value not in description
    assert not any(group in description for group in value.replace("-", " ").split() if len(group) >= 3)
    assert value not in repr(match)


def test_describe_names_the_kind() -> None:
    assert PiiMatch("card", 0, 16).describe() == "a payment card number"
    assert {PiiMatch(kind, 0, 1).describe() for kind in PII_KINDS} >= {"an email address", "a phone number"}


def test_matches_are_sorted_and_do_not_overlap() -> None:
    text = "Write to 555-123-4567@example.com or ring 555-123-4567, IBAN NL91 ABNA 0417 1643 00."
    matches = find_pii(text)
    assert [m.kind for m in matches] == ["email", "phone", "iban"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(matches))


def test_kinds_filter_and_reject_unknown_kinds() -> None:
    text = "jane@example.com and 555-123-4567"
    only_phone: list[PiiKind] = ["phone"]
    assert [m.kind for m in find_pii(text, kinds=only_phone)] == ["phone"]
    assert find_pii(text, kinds=[]) == []
    with pytest.raises(ValueError, match="unknown PII kind"):
        find_pii(text, kinds=["passport"])  # type: ignore[list-item]


def test_redact_with_given_matches_and_empty_text() -> None:
    text = "Call 555-123-4567 or mail jane@example.com"
    emails = find_pii(text, kinds=["email"])
    assert redact(text, emails) == "Call 555-123-4567 or mail [email]"
    assert redact("", None) == ""
    assert find_pii("") == []


def test_bare_nine_and_twelve_digit_numbers_need_context() -> None:
    # Without the id's name these are too ambiguous (order numbers, Spanish phones) and are left alone.
    assert find_pii("Reference 123456789 is on the letter.") == []
    assert find_pii("Reference 046 454 286 is on the letter.") == []


def test_the_pii_benchmark_finds_every_kind_and_leaves_numbers_alone() -> None:
    """The project's generated PII corpus (another seed than the one reported in BENCHMARKS.md)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_pii.py"
    args = [sys.executable, str(script), "--seed", "5", "--per-kind", "300", "--negatives", "500", "--json"]
    figures = json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    assert all(recall >= 0.99 for recall in figures["recall"].values()), figures["recall"]
    assert figures["fp_numeric_negatives"]["rate_any"] <= 0.01
    assert figures["fp_training_corpus"]["rate_any"] <= 0.002
