"""PII detection benchmark: recall per kind on a generated corpus, false positives on ordinary text.

    .venv/bin/python benchmarks/bench_pii.py                 # palign_rag.pii, the figures in its docstring
    .venv/bin/python benchmarks/bench_pii.py --json          # the same, machine-readable
    PYTHONPATH=. /tmp/presidio-venv/bin/python benchmarks/bench_pii.py --engine presidio   # for comparison

The labelled corpus is generated in memory from a seeded ``random``: for each kind, at least
``--per-kind`` sentences (English, Spanish, French, German, Italian, Dutch and Portuguese frames), each
holding one value that is valid by its checksum, written in one of the formats people use for it. A hit is
a match *of the right kind* that covers the whole value. Values in formats that need context (a bare
9-digit SSN, SIN or BSN, a bare 12-digit Aadhaar, a bare 10-digit phone number) are only generated in
frames that name the number, because that is the documented rule.

False positives are counted on two sets of sentences that hold no personal data:

* every ``"text"`` of the JSONL files under ``training/corpus/`` (the project's own everyday sentences;
  the few flagged ones are printed so a reader can see whether they are PII-shaped, e.g. the example
  address landlord@example.com), and
* generated numeric-looking sentences: dates, times, prices, version numbers, tracking and order codes,
  measurements, counts, scores, ISBNs, postcodes, short local numbers.

The Presidio engine uses a blank spaCy pipeline (no model download) and only the pattern and checksum
recognizers for the same kinds; it is imported only when asked for, from a separate virtualenv.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import string
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from palign_rag.pii import PII_KINDS, PiiKind  # noqa: E402

Detector = Callable[[str], list[tuple[str, int, int]]]
Labelled = tuple[str, PiiKind, int, int]  # sentence, kind, value start, value end

# ------------------------------------------------------------------------------------------ value makers

FIRST = ["anna", "james", "maría", "jürgen", "chloé", "luca", "sanne", "priya", "wei", "olu", "jack", "sofia",
         "ahmed", "emma", "noah", "léa", "mateo", "giulia", "daan", "ravi", "liam", "zoe", "ines", "tom"]  # fmt: skip
LAST = ["smith", "garcia", "müller", "dubois", "rossi", "de-vries", "sharma", "chen", "okafor", "brown", "silva",
        "khan", "jones", "martin", "bianchi", "jansen", "patel", "oconnor", "nowak", "lopez"]  # fmt: skip
DOMAINS = ["gmail.com", "yahoo.co.uk", "outlook.com", "web.de", "orange.fr", "libero.it", "ziggo.nl", "uol.com.br",
           "mail.example.com", "company-name.io", "uni-heidelberg.de", "cs.ox.ac.uk", "proton.me", "icloud.com",
           "correo.es", "gov.in", "shop123.net", "startup.ai"]  # fmt: skip


def _luhn_complete(prefix: str) -> str:
    for check in "0123456789":
        digits = prefix + check
        total = 0
        for index, char in enumerate(reversed(digits)):
            value = int(char) * (2 if index % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _group(value: str, sizes: list[int], sep: str) -> str:
    parts, pos = [], 0
    for size in sizes:
        parts.append(value[pos : pos + size])
        pos += size
    return sep.join(parts)


def make_email(rng: random.Random) -> str:
    first, last, domain = rng.choice(FIRST), rng.choice(LAST), rng.choice(DOMAINS)
    local = rng.choice(
        [
            f"{first}.{last}",
            f"{first}{last}",
            f"{first}_{last}",
            f"{first[0]}{last}",
            f"{first}.{last}{rng.randint(1, 99)}",
            f"{first}{rng.randint(1950, 2010)}",
            f"{first}.{last}+{rng.choice(['news', 'shop', 'work', 'x'])}",
            f"{last}-{first}",
        ]
    )
    value = f"{local}@{domain}"
    return value.upper() if rng.random() < 0.05 else (value.title() if rng.random() < 0.1 else value)


def make_phone(rng: random.Random) -> tuple[str, bool]:
    """A phone number in a real national or international format; True when it needs a phone word nearby."""

    def d(n: int) -> str:
        return _digits(rng, n)

    area = str(rng.randint(201, 989))
    exch = str(rng.randint(200, 999))
    line = d(4)
    uk_mobile = "7" + d(3)
    uk_six = d(6)
    choices: list[tuple[str, bool]] = [
        (f"({area}) {exch}-{line}", False),
        (f"{area}-{exch}-{line}", False),
        (f"{area}.{exch}.{line}", False),
        (f"{area} {exch} {line}", False),
        (f"+1 {area} {exch} {line}", False),
        (f"+1-{area}-{exch}-{line}", False),
        (f"+1 ({area}) {exch}-{line}", False),
        (f"1-{rng.choice(['800', '888', '877'])}-{exch}-{line}", False),
        (f"{area}{exch}{line}", True),
        (f"0{uk_mobile} {uk_six}", False),
        (f"020 {rng.randint(3, 8)}{d(3)} {d(4)}", False),
        (f"0161 {d(3)} {d(4)}", False),
        (f"01632 {d(6)}", False),
        (f"+44 {uk_mobile} {uk_six}", False),
        (f"+44 (0)20 {rng.randint(3, 8)}{d(3)} {d(4)}", False),
        (f"0044 20 {rng.randint(3, 8)}{d(3)} {d(4)}", False),
        (f"+44{uk_mobile}{uk_six}", False),
        (f"0{uk_mobile}{uk_six}", True),
        (f"0{rng.choice('67')} {d(2)} {d(2)} {d(2)} {d(2)}", False),
        (f"0{rng.choice('67')}.{d(2)}.{d(2)}.{d(2)}.{d(2)}", False),
        (f"+33 {rng.choice('67')} {d(2)} {d(2)} {d(2)} {d(2)}", False),
        (f"+33 (0)1 {d(2)} {d(2)} {d(2)} {d(2)}", False),
        (f"030 {d(8)}", False),
        (f"0151 {d(8)}", False),
        (f"030/{d(7)}", False),
        (f"+49 30 {d(8)}", False),
        (f"+49 151 {d(8)}", False),
        (f"+49 (0)89 {d(7)}", False),
        (f"{rng.choice('67')}{d(2)} {d(3)} {d(3)}", False),
        (f"9{d(2)} {d(2)} {d(2)} {d(2)}", False),
        (f"+34 {rng.choice('67')}{d(2)} {d(3)} {d(3)}", False),
        (f"+39 3{d(2)} {d(3)} {d(4)}", False),
        (f"02 {d(4)} {d(4)}", False),
        (f"+39 06 {d(4)} {d(4)}", False),
        (f"06-{d(8)}", False),
        (f"020 {d(3)} {d(4)}", False),
        (f"+31 6 {d(8)}", False),
        (f"+91 9{d(4)} {d(5)}", False),
        (f"+351 9{d(2)} {d(3)} {d(3)}", False),
        (f"+41 44 {d(3)} {d(2)} {d(2)}", False),
        (f"044 {d(3)} {d(2)} {d(2)}", False),
        (f"+1 {area}-{exch}-{line}", False),
        (f"(+44) 20 {rng.randint(3, 8)}{d(3)} {d(4)}", False),
        (f"(020) {rng.randint(3, 8)}{d(3)} {d(4)}", False),
        (f"0{uk_mobile}-{uk_six[:3]}-{uk_six[3:]}", False),
        (f"+49-30-{d(8)}", False),
        (f"0049 89 {d(7)}", False),
        (f"+7 495 {d(3)}-{d(2)}-{d(2)}", False),
        (f"+81 3-{d(4)}-{d(4)}", False),
        (f"+61 4{d(2)} {d(3)} {d(3)}", False),
        (f"+55 11 9{d(4)}-{d(4)}", False),
        (f"+86 138 {d(4)} {d(4)}", False),
        (f"+353 87 {d(3)} {d(4)}", False),
    ]
    return rng.choice(choices)


CARD_BRANDS: list[tuple[Callable[[random.Random], str], int, list[int]]] = [
    (lambda r: "4", 16, [4, 4, 4, 4]),  # Visa
    (lambda r: "4", 19, [4, 4, 4, 4, 3]),
    (lambda r: str(r.randint(51, 55)), 16, [4, 4, 4, 4]),  # Mastercard
    (lambda r: str(r.randint(2221, 2720)), 16, [4, 4, 4, 4]),
    (lambda r: r.choice(["34", "37"]), 15, [4, 6, 5]),  # Amex
    (lambda r: r.choice(["6011", "65", str(r.randint(644, 649))]), 16, [4, 4, 4, 4]),  # Discover
    (lambda r: str(r.randint(3528, 3589)), 16, [4, 4, 4, 4]),  # JCB
    (lambda r: r.choice(["36", "38", str(r.randint(300, 305))]), 14, [4, 6, 4]),  # Diners
    (lambda r: "62", 16, [4, 4, 4, 4]),  # UnionPay
]


def make_card(rng: random.Random) -> str:
    prefix_of, length, sizes = rng.choice(CARD_BRANDS)
    prefix = prefix_of(rng)
    number = _luhn_complete(prefix + _digits(rng, length - len(prefix) - 1))
    style = rng.random()
    if style < 0.05:
        return _group(number, sizes, "\u00a0")  # pasted from a web page
    if style < 0.45:
        return _group(number, sizes, " ")
    if style < 0.75:
        return _group(number, sizes, "-")
    return number


# BBAN shapes: L letter, D digit, A letter or digit.
IBAN_SHAPES = {
    "GB": "LLLLDDDDDDDDDDDDDD", "DE": "DDDDDDDDDDDDDDDDDD", "FR": "DDDDDDDDDDDDDDDDDDDDDDD",
    "ES": "DDDDDDDDDDDDDDDDDDDD", "IT": "LDDDDDDDDDDAAAAAAAAAAAA", "NL": "LLLLDDDDDDDDDD", "BE": "DDDDDDDDDDDD",
    "CH": "DDDDDAAAAAAAAAAAA", "AT": "DDDDDDDDDDDDDDDD", "IE": "LLLLDDDDDDDDDDDDDD", "PT": "DDDDDDDDDDDDDDDDDDDDD",
    "PL": "DDDDDDDDDDDDDDDDDDDDDDDD", "SE": "DDDDDDDDDDDDDDDDDDDD", "NO": "DDDDDDDDDDD", "DK": "DDDDDDDDDDDDDD",
    "FI": "DDDDDDDDDDDDDD", "LU": "DDDAAAAAAAAAAAAA", "GR": "DDDDDDDAAAAAAAAAAAAAAAA", "BR": "DDDDDDDDDDDDDDDDDDDDDDDLA",
    "TR": "DDDDDAAAAAAAAAAAAAAAAA",
}  # fmt: skip


def make_iban(rng: random.Random) -> str:
    country = rng.choice(sorted(IBAN_SHAPES))
    pools = {"L": string.ascii_uppercase, "D": string.digits, "A": string.ascii_uppercase + string.digits}
    bban = "".join(rng.choice(pools[c]) for c in IBAN_SHAPES[country])
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    iban = f"{country}{98 - int(numeric) % 97:02d}{bban}"
    style = rng.random()
    if style < 0.03:
        iban = iban.lower()
    if style < 0.65:
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return iban


def make_ip(rng: random.Random) -> str:
    style = rng.random()
    if style < 0.55:
        first = rng.choice([rng.randint(1, 126), rng.randint(128, 223), 10, 172, 192])
        second = 168 if first == 192 else rng.randint(0, 255)
        return f"{first}.{second}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    import ipaddress

    if style < 0.6:
        return f"::ffff:{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if style < 0.8:
        address = ipaddress.IPv6Address(rng.randint(0x2000 << 112, (0x3FFF << 112) - 1))
    else:
        address = ipaddress.IPv6Address((0xFE80 << 112) + rng.randint(1, 2**64 - 1))
    if rng.random() < 0.5:
        zeroed = ipaddress.IPv6Address(int(address) & ~(0xFFFFFFFF << 32) & ~(0xFFFF << 64))
        return zeroed.compressed
    return address.exploded if rng.random() < 0.5 else address.compressed


def _aadhaar(rng: random.Random) -> str:
    from palign_rag.pii import _verhoeff_ok

    body = str(rng.randint(2, 9)) + _digits(rng, 10)
    return next(body + c for c in "0123456789" if _verhoeff_ok(body + c))


def _bsn(rng: random.Random) -> str:
    while True:
        body = _digits(rng, 8)
        total = sum(w * int(c) for w, c in zip(range(9, 1, -1), body))
        last = total % 11
        if last < 10 and body != "00000000":
            return body + str(last)


def make_national_id(rng: random.Random) -> tuple[str, str]:
    """(value, id name), the name picks frames that mention that id."""
    kind = rng.choice(["ssn", "ssn", "nino", "dni", "nie", "aadhaar", "sin", "bsn"])
    if kind == "ssn":
        area = rng.choice([a for a in range(1, 900) if a != 666])
        value = f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
        style = rng.random()
        return (value.replace("-", " ") if style < 0.2 else value.replace("-", "") if style < 0.3 else value), "ssn"
    if kind == "nino":
        firsts = [c for c in string.ascii_uppercase if c not in "DFIQUV"]
        seconds = [c for c in string.ascii_uppercase if c not in "DFIOQUV"]
        prefix = "GB"
        while prefix in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}:
            prefix = rng.choice(firsts) + rng.choice(seconds)
        digits = _digits(rng, 6)
        suffix = rng.choice("ABCD")
        if rng.random() < 0.5:
            return f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}", "nino"
        return f"{prefix}{digits}{suffix}", "nino"
    letters = "TRWAGMYFPDXBNJZSQVHLCKE"
    if kind == "dni":
        number = _digits(rng, 8)
        check = letters[int(number) % 23]
        style = rng.random()
        if style < 0.15:
            return f"{number[:2]}.{number[2:5]}.{number[5:]}-{check}", "dni"
        return f"{number}{'-' if style < 0.35 else ''}{check}", "dni"
    if kind == "nie":
        lead, number = rng.choice("XYZ"), _digits(rng, 7)
        check = letters[int(str("XYZ".index(lead)) + number) % 23]
        return (f"{lead}-{number}-{check}" if rng.random() < 0.3 else f"{lead}{number}{check}"), "nie"
    if kind == "aadhaar":
        value = _aadhaar(rng)
        style = rng.random()
        if style < 0.6:
            return _group(value, [4, 4, 4], " "), "aadhaar"
        return (_group(value, [4, 4, 4], "-"), "aadhaar") if style < 0.8 else (value, "aadhaar")
    if kind == "sin":
        value = _luhn_complete(rng.choice("12345679") + _digits(rng, 7))
        return (_group(value, [3, 3, 3], rng.choice([" ", "-"])) if rng.random() < 0.8 else value), "sin"
    value = _bsn(rng)
    return (value if rng.random() < 0.7 else _group(value, [4, 2, 3], ".")), "bsn"


# ------------------------------------------------------------------------------------------ sentence frames

FRAMES: dict[str, list[str]] = {
    "email": [
        "You can email me at {v} if anything changes.",
        "My work address is {v}, please use that one.",
        "Send the invoice to {v}.",
        "Escríbeme a {v} cuando puedas.",
        "Mon adresse e-mail : {v}",
        "Schreib mir an {v}, danke!",
        "Il mio indirizzo è {v}.",
        "Mail de foto's naar {v} aub",
        "Manda para {v} por favor.",
        "{v} is my old one, ignore it",
        "cc my sister ({v}) on the wedding stuff",
        'She said "reach me at {v}" and left.',
        "remember my login is {v}",
        "Contact: <{v}>",
        "the link was mailto:{v}",
        "Email:\n{v}\nThanks!",
    ],
    "phone": [
        "Call me on {v} after six.",
        "My mobile is {v}.",
        "Save this number: {v} (Jenny's new one)",
        "The plumber's number is {v}, he's cheap.",
        "Text {v} when you land.",
        "Mi número es {v}, llámame mañana.",
        "Tu peux m'appeler au {v} ce soir.",
        "Meine Handynummer lautet {v}.",
        "Il mio cellulare è {v}.",
        "Bel me op {v} als je er bent.",
        "O meu telefone é {v}.",
        "remember my dentist's phone, {v}",
        "For emergencies call {v}!",
        "Tel.: {v}",
        "Phone:\n{v}",
    ],
    "phone_plain": [
        "Jenny's new one: {v}",
        "{v} is the landlord, keep it handy",
        "Reach the front desk at {v} before noon.",
        "Oficina: {v}",
        "Le cabinet, c'est le {v}.",
        "Praxis: {v}, Termine nur vormittags",
        "note: {v} for the school office",
    ],
    "card": [
        "My card number is {v}, expiry 09/27.",
        "Charge it to {v} please.",
        "Use the Visa ending in the one I gave you: {v}",
        "Paga con la tarjeta {v}.",
        "Ma carte bancaire {v} a été refusée hier.",
        "Meine Kreditkarte: {v}",
        "Il numero della carta è {v}",
        "{v} is the card I use for groceries.",
        "remember my card {v} for next time",
        "Pagamento com cartão {v} falhou",
    ],
    "iban": [
        "My IBAN is {v}, transfer the rent there.",
        "Please pay into {v} by Friday.",
        "Mi IBAN: {v}",
        "Virement sur le compte {v} svp.",
        "Bitte überweise an {v}.",
        "IBAN {v} intestato a me",
        "Rekeningnummer {v}, op naam van Jansen",
        "{v} is the joint account.",
        "Save my bank details: {v}.",
    ],
    "ip": [
        "My home IP is {v}, whitelist it.",
        "The server at {v} keeps timing out.",
        "Block {v} in the firewall, it's spamming us.",
        "Mi IP pública es {v}.",
        "L'adresse IP {v} est bloquée.",
        "Meine IP-Adresse: {v}",
        "ssh into {v} and restart nginx",
        "the printer sits on {v} now",
        "Connecting to [{v}]:443 failed",
        "Open http://[{v}]:8080/admin in the browser.",
        "{v} port 22 is open, close it",
        "route {v}/24 through the VPN",
        "IP={v}; user=admin",
    ],
}
ID_FRAMES: dict[str, list[str]] = {
    "ssn": ["My SSN is {v}.", "social security number {v}, keep it safe", "SSN: {v}", "My social security is {v}."],
    "nino": [
        "My NI number is {v}.",
        "National Insurance: {v}",
        "remember {v} for the tax form",
        "{v} is my national insurance number",
    ],
    "dni": ["Mi DNI es {v}.", "DNI {v}, por si lo necesitas", "apunta mi documento: {v}", "{v} es mi NIF"],
    "nie": ["Mi NIE es {v}.", "Tarjeta de residencia {v}", "My Spanish NIE: {v}"],
    "aadhaar": ["My Aadhaar number is {v}.", "Aadhaar: {v}", "आधार {v}", "aadhar card {v} linked to my bank"],
    "sin": ["My SIN is {v}.", "Social insurance number: {v}", "Mon NAS est le {v}.", "SIN {v} for the T4 form"],
    "bsn": ["Mijn BSN is {v}.", "burgerservicenummer {v}", "BSN: {v}", "My Dutch BSN is {v}."],
}


def _place(frame: str, value: str, kind: PiiKind) -> Labelled:
    start = frame.index("{v}")
    return frame.replace("{v}", value), kind, start, start + len(value)


def generate_labelled(rng: random.Random, per_kind: int) -> list[Labelled]:
    out: list[Labelled] = []
    for _ in range(per_kind):
        out.append(_place(rng.choice(FRAMES["email"]), make_email(rng), "email"))
        phone, needs_context = make_phone(rng)
        frames = FRAMES["phone"] if needs_context else FRAMES["phone"] + FRAMES["phone_plain"]
        out.append(_place(rng.choice(frames), phone, "phone"))
        out.append(_place(rng.choice(FRAMES["card"]), make_card(rng), "card"))
        out.append(_place(rng.choice(FRAMES["iban"]), make_iban(rng), "iban"))
        out.append(_place(rng.choice(FRAMES["ip"]), make_ip(rng), "ip"))
        value, id_name = make_national_id(rng)
        out.append(_place(rng.choice(ID_FRAMES[id_name]), value, "national_id"))
    return out


# ------------------------------------------------------------------------------------------ non-PII numbers

MONTHS = ["January", "March", "May", "July", "September", "November", "mars", "Juni", "agosto", "dicembre"]


def generate_numeric_negatives(rng: random.Random, n: int) -> list[str]:
    def d(k: int) -> str:
        return _digits(rng, k)

    def year() -> int:
        return rng.randint(1950, 2030)

    def day() -> int:
        return rng.randint(1, 28)

    def month() -> int:
        return rng.randint(1, 12)

    makers: list[Callable[[], str]] = [
        lambda: (
            f"The meeting moved to {year()}-{month():02d}-{day():02d} at {rng.randint(7, 20)}:{rng.choice(['00', '15', '30', '45'])}."
        ),
        lambda: f"Invoice dated {day():02d}/{month():02d}/{year()} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
        lambda: f"Termin am {day():02d}.{month():02d}.{year()} um {rng.randint(8, 18)} Uhr.",
        lambda: f"Born on {day()} {rng.choice(MONTHS)} {year()}, moved in {year()}.",
        lambda: (
            f"Logged at {year()}-{month():02d}-{day():02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"
        ),
        lambda: f"It costs ${rng.randint(1, 9)},{d(3)}.{d(2)} or {rng.randint(1, 999)} {d(3)} € in Paris.",
        lambda: f"Le loyer est de {rng.randint(1, 3)} {d(3)},{d(2)} € par mois.",
        lambda: f"Budget: £{rng.randint(10, 999)},{d(3)} for {rng.randint(2, 40)} people.",
        lambda: f"The population is {rng.randint(100, 999)} {d(3)} {d(3)} inhabitants.",
        lambda: f"We sold {rng.randint(1, 999)},{d(3)},{d(3)} units last year.",
        lambda: (
            f"Upgrade to version {rng.randint(1, 20)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}.{rng.randint(0, 999)} first."
        ),
        lambda: (
            f"Running Python {rng.randint(2, 3)}.{rng.randint(0, 13)}.{rng.randint(0, 20)} on Ubuntu {rng.choice(['20.04', '22.04', '24.04'])}."
        ),
        lambda: f"Windows build 10.0.{d(5)}.{d(4)} crashed again.",
        lambda: f"Tracking number 1Z{d(3)}AA{d(10)}, arriving Tuesday.",
        lambda: f"Your DHL parcel JJD{d(15)} is delayed.",
        lambda: f"USPS tracking 9400 {d(4)} {d(4)} {d(4)} {d(4)} {d(2)}",
        lambda: f"FedEx {d(12)} left the depot.",
        lambda: f"Order #{d(rng.randint(5, 9))} shipped; ref ORD-{year()}-{d(5)}.",
        lambda: f"Ticket INC{d(7)} was closed.",
        lambda: f"Order number {rng.randint(1, 9)}{d(rng.randint(7, 11))} please check",
        lambda: (
            f"Train leaves at {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d} and arrives {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}."
        ),
        lambda: (
            f"I ran {rng.randint(1, 42)}.{rng.randint(0, 9)} km in {rng.randint(20, 59)}:{rng.randint(10, 59)} min, heart rate {rng.randint(90, 190)} bpm."
        ),
        lambda: (
            f"The box is {rng.randint(10, 99)} x {rng.randint(10, 99)} x {rng.randint(10, 99)} cm and weighs {rng.randint(1, 30)}.{rng.randint(0, 9)} kg."
        ),
        lambda: f"Coordinates {rng.randint(-89, 89)}.{d(4)}, {rng.randint(-179, 179)}.{d(4)}.",
        lambda: f"Final score {rng.randint(0, 5)}-{rng.randint(0, 5)}, attendance {rng.randint(10, 99)},{d(3)}.",
        lambda: f"ISBN 978-{rng.randint(0, 9)}-{d(2)}-{d(6)}-{rng.randint(0, 9)}",
        lambda: f"Room {rng.randint(100, 999)}, floor {rng.randint(1, 30)}, postcode {d(5)}.",
        lambda: f"Call extension {d(4)} or dial {d(3)}-{d(4)} from inside.",
        lambda: f"My PIN hint: {d(3)} {d(2)}.",
        lambda: f"Between {year()} and {year()} we visited {rng.randint(2, 60)} countries.",
        lambda: f"Chapter {rng.randint(1, 20)}.{rng.randint(1, 9)}.{rng.randint(1, 9)} covers this.",
        lambda: (
            f"Blood pressure {rng.randint(100, 180)}/{rng.randint(60, 110)}, cholesterol {rng.randint(3, 7)}.{rng.randint(0, 9)}"
        ),
        lambda: f"Serial no. SN-{d(4)}-{d(4)}-{d(4)}",
        lambda: f"Product code {d(13)} on the barcode.",
        lambda: f"Revenue {rng.randint(1, 99)} {d(3)} {d(3)} EUR in Q{rng.randint(1, 4)} {year()}",
        lambda: f"Error 0x{d(8)} at offset {d(6)}.",
        lambda: f"I was {rng.randint(20, 90)} in {year()}, now {rng.randint(20, 90)}.",
        lambda: f"Flight LH{d(4)} gate B{rng.randint(1, 60)}, seat {rng.randint(1, 40)}C.",
        lambda: f"Meter reading {d(5)}.{d(1)} kWh on {day()}.{month()}.{year()}",
        lambda: f"Lottery numbers {' '.join(str(rng.randint(1, 49)) for _ in range(6))}",
        lambda: f"Request id {rng.getrandbits(128):032x} failed; uuid {_uuid(rng)}",
        lambda: f"MAC address {':'.join(f'{rng.randint(0, 255):02X}' for _ in range(6))} is the printer.",
        lambda: f"Sort code {d(2)}-{d(2)}-{d(2)}, account ending {d(4)}.",
        lambda: f"Zip {d(5)}-{d(4)}, PO box {d(4)}.",
        lambda: (
            f"Read pages {rng.randint(10, 300)}-{rng.randint(301, 600)} and ISO {d(4)}:{year()} before {day()}/{month()}."
        ),
        lambda: f"commit {rng.getrandbits(160):040x} broke the build",
        lambda: f"Unix time {rng.randint(1_000_000_000, 1_999_999_999)} is when it started.",
        lambda: (
            f"Temperatures from -{rng.randint(1, 20)} to +{rng.randint(1, 40)} degrees, {rng.randint(1, 99)}% humidity."
        ),
        lambda: (
            f"Results: {rng.randint(10, 30)}-{rng.randint(10, 30)}, {rng.randint(10, 30)}-{rng.randint(10, 30)} and {rng.randint(10, 30)}-{rng.randint(10, 30)}"
        ),
        lambda: (
            f"Firmware version {rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 99)} fixes it."
        ),
        lambda: f"Card ending in {d(4)}, expires {month():02d}/{rng.randint(24, 32)}.",
        lambda: (
            f"I called {rng.randint(2, 9)} times between {rng.randint(1, 12)} and {rng.randint(1, 12)} pm on {day()}.{month()}."
        ),
        lambda: f"Text me the code {d(6)} when it arrives.",
        lambda: f"The {year()}-{year()} season had {rng.randint(1, 99)} {d(3)} fans.",
        lambda: f"Tel Aviv is {rng.randint(50, 999)} km and {rng.randint(1, 9)} {d(3)} {d(3)} people away.",
        lambda: (
            f"Mortgage of {rng.randint(100, 999)} {d(3)} € at {rng.randint(1, 6)}.{d(2)}% over {rng.randint(10, 35)} years"
        ),
        lambda: f"The file is {rng.randint(1, 999)}.{d(1)} MB, {d(7)} bytes exactly.",
        lambda: f"Stock {rng.randint(1, 999)} {d(3)} {d(3)} {d(3)} shares outstanding.",
        lambda: f"Part no. {d(3)}-{d(3)}-{d(3)} and {d(4)}-{d(4)}-{d(4)} in the catalogue.",
        lambda: (
            f"Phone model {rng.choice(['iPhone', 'Pixel', 'Galaxy S'])} {rng.randint(7, 16)}, iOS {rng.randint(14, 18)}.{rng.randint(0, 6)}.{rng.randint(0, 3)}"
        ),
    ]
    return [rng.choice(makers)() for _ in range(n)]


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def load_corpus() -> list[str]:
    texts: list[str] = []
    for path in sorted((ROOT / "training" / "corpus").rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["text"])
    return texts


# ------------------------------------------------------------------------------------------ engines


def palign_detector() -> Detector:
    from palign_rag.pii import find_pii

    return lambda text: [(m.kind, m.start, m.end) for m in find_pii(text)]


PRESIDIO_KINDS = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "card",
    "IBAN_CODE": "iban",
    "IP_ADDRESS": "ip",
    "US_SSN": "national_id",
    "UK_NINO": "national_id",
    "ES_NIF": "national_id",
    "ES_NIE": "national_id",
    "IN_AADHAAR": "national_id",
    "CA_SIN": "national_id",
}


def presidio_detector(threshold: float) -> Detector:
    import logging

    # EmailRecognizer's tldextract tries to fetch the Public Suffix List on first use; offline it logs a
    # traceback and falls back to the snapshot it ships with. Silence the traceback, keep the behaviour.
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    import spacy
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CaSinRecognizer,
        CreditCardRecognizer,
        EmailRecognizer,
        EsNieRecognizer,
        EsNifRecognizer,
        IbanRecognizer,
        InAadhaarRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UkNinoRecognizer,
        UsSsnRecognizer,
    )

    nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank"}])
    nlp_engine.nlp = {"en": spacy.blank("en")}  # loaded: AnalyzerEngine will not try to download a model
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (
        EmailRecognizer(),
        PhoneRecognizer(supported_regions=("US", "GB", "DE", "FR", "ES", "IT", "NL", "IN", "CA", "CH", "PT")),
        CreditCardRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        UsSsnRecognizer(),
        UkNinoRecognizer(),
        EsNifRecognizer(supported_language="en"),
        EsNieRecognizer(supported_language="en"),
        InAadhaarRecognizer(),
        CaSinRecognizer(),
    ):
        registry.add_recognizer(recognizer)
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])
    entities = list(PRESIDIO_KINDS)

    def detect(text: str) -> list[tuple[str, int, int]]:
        results = analyzer.analyze(text=text, language="en", entities=entities, score_threshold=threshold)
        return [(PRESIDIO_KINDS[r.entity_type], r.start, r.end) for r in results]

    return detect


# ------------------------------------------------------------------------------------------ measuring


def run(detect: Detector, labelled: list[Labelled], corpus: list[str], negatives: list[str]) -> dict[str, object]:
    timings: list[float] = []

    def timed(text: str) -> list[tuple[str, int, int]]:
        t0 = time.perf_counter()
        found = detect(text)
        timings.append((time.perf_counter() - t0) * 1e6)
        return found

    hits = dict.fromkeys(PII_KINDS, 0)
    totals = dict.fromkeys(PII_KINDS, 0)
    misses: dict[str, list[str]] = {kind: [] for kind in PII_KINDS}
    for text, kind, start, end in labelled:
        totals[kind] += 1
        found = timed(text)
        if any(k == kind and s <= start and e >= end for k, s, e in found):
            hits[kind] += 1
        elif len(misses[kind]) < 8:
            misses[kind].append(text)
    pii_timings = list(timings)

    def false_positives(texts: list[str]) -> dict[str, object]:
        per_kind: dict[str, int] = dict.fromkeys(PII_KINDS, 0)
        any_kind = 0
        flagged: list[str] = []
        for text in texts:
            kinds = {k for k, _, _ in timed(text)}
            for k in kinds:
                per_kind[k] += 1
            if kinds:
                any_kind += 1
                found = detect(text)
                flagged.append(" | ".join(f"{k}: {text[s:e]!r}" for k, s, e in found))
        return {
            "sentences": len(texts),
            "flagged_any": any_kind,
            "rate_any": round(any_kind / max(1, len(texts)), 5),
            "flagged_per_kind": per_kind,
            "rate_per_kind": {k: round(v / max(1, len(texts)), 5) for k, v in per_kind.items()},
            "examples": flagged[:40],
        }

    ordinary_start = len(timings)
    corpus_fp = false_positives(corpus)
    negatives_fp = false_positives(negatives)
    ordinary_timings = timings[ordinary_start:]
    return {
        "recall": {k: round(hits[k] / totals[k], 4) for k in PII_KINDS},
        "labelled_per_kind": totals,
        "misses": misses,
        "fp_training_corpus": corpus_fp,
        "fp_numeric_negatives": negatives_fp,
        "median_us_per_sentence": round(statistics.median(timings), 1),
        "median_us_pii_sentences": round(statistics.median(pii_timings), 1),
        "median_us_ordinary_sentences": round(statistics.median(ordinary_timings), 1),
        "p95_us_per_sentence": round(sorted(timings)[int(0.95 * len(timings))], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["palign", "presidio"], default="palign")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-kind", type=int, default=500, help="generated sentences per kind (>= 300)")
    parser.add_argument("--negatives", type=int, default=2000, help="generated numeric non-PII sentences")
    parser.add_argument("--threshold", type=float, default=0.0, help="Presidio score threshold")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--show", action="store_true", help="print misses and flagged ordinary sentences")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    labelled = generate_labelled(rng, args.per_kind)
    negatives = generate_numeric_negatives(rng, args.negatives)
    corpus = load_corpus()
    detect = palign_detector() if args.engine == "palign" else presidio_detector(args.threshold)
    detect("warm-up: call 555-123-4567 or mail a@b.co")
    result: dict[str, object] = {"engine": args.engine, "seed": args.seed, "python": sys.version.split()[0]}
    if args.engine == "presidio":
        result["threshold"] = args.threshold
    result.update(run(detect, labelled, corpus, negatives))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return
    print(
        f"engine={args.engine} seed={args.seed} labelled={len(labelled)} corpus={len(corpus)} negatives={len(negatives)}"
    )
    recall = result["recall"]
    assert isinstance(recall, dict)
    print("recall per kind: " + ", ".join(f"{k} {v:.4f}" for k, v in recall.items()))
    for name in ("fp_training_corpus", "fp_numeric_negatives"):
        fp = result[name]
        assert isinstance(fp, dict)
        per_kind = ", ".join(f"{k} {v}" for k, v in fp["flagged_per_kind"].items() if v)
        print(
            f"{name}: {fp['flagged_any']}/{fp['sentences']} flagged (rate {fp['rate_any']:.4f}); {per_kind or 'none'}"
        )
        if args.show:
            for example in fp["examples"]:
                print("   ", example)
    print(
        f"latency: median {result['median_us_per_sentence']} us/sentence "
        f"(PII sentences {result['median_us_pii_sentences']}, ordinary {result['median_us_ordinary_sentences']}), "
        f"p95 {result['p95_us_per_sentence']} us"
    )
    if args.show:
        misses = result["misses"]
        assert isinstance(misses, dict)
        for kind, texts in misses.items():
            for text in texts:
                print(f"  missed {kind}: {text}")


if __name__ == "__main__":
    main()
