"""A labeled PII evaluation set generated from templates with Faker (deterministic for a seed).

Every document is built piece by piece, so the character span and entity type of every planted value is
known exactly. Values come from several Faker locales; phone numbers are checked with python-phonenumbers
and written in national, international and E.164 formats. Hard cases: names in ALL CAPS, names at the
start of a sentence, international phone formats, postal addresses (the city is labeled LOCATION, the
street part is an "ignore" region that counts neither for nor against precision), grouped and ungrouped
IBANs and card numbers, and PII deep inside long documents (in their last 100 characters).

Usage (writes JSONL, one document per line: text, spans [[start, end, entity], ...], ignore, kind):

    python -m benchmarks.pii_eval_data --docs 200 --out /tmp/pii_eval.jsonl
"""
from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass, field
from typing import Optional

LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "en_IN")
_REGION = {"en_US": "US", "en_GB": "GB", "de_DE": "DE", "fr_FR": "FR", "es_ES": "ES", "it_IT": "IT",
           "nl_NL": "NL", "en_IN": "IN"}


@dataclass
class LabeledDoc:
    """A generated document with its gold spans."""

    text: str
    spans: list[tuple[int, int, str]] = field(default_factory=list)
    ignore: list[tuple[int, int]] = field(default_factory=list)
    kind: str = "short"

    def to_json(self) -> str:
        return json.dumps(
            {"text": self.text, "spans": self.spans, "ignore": self.ignore, "kind": self.kind}, ensure_ascii=False
        )


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.n = 0
        self.spans: list[tuple[int, int, str]] = []
        self.ignore: list[tuple[int, int]] = []

    def text(self, s: str) -> None:
        self.parts.append(s)
        self.n += len(s)

    def value(self, s: str, entity: Optional[str]) -> None:
        start = self.n
        self.text(s)
        if entity is None:
            self.ignore.append((start, self.n))
        else:
            self.spans.append((start, self.n, entity))

    def build(self, kind: str) -> LabeledDoc:
        return LabeledDoc("".join(self.parts), self.spans, self.ignore, kind)


class Generator:
    """Generates labeled documents.

    Args:
        seed: random seed (Faker and the template choice).
    """

    def __init__(self, seed: int = 0) -> None:
        from faker import Faker

        self.rng = random.Random(seed)
        self.fakers = {loc: Faker(loc) for loc in LOCALES}
        for i, loc in enumerate(LOCALES):
            self.fakers[loc].seed_instance(seed * 1000 + i)
        self.filler = Faker("en_US")
        self.filler.seed_instance(seed * 1000 + 999)

    # --- values -------------------------------------------------------------------------------------

    def _fk(self):
        loc = self.rng.choice(LOCALES)
        return loc, self.fakers[loc]

    def phone(self) -> str:
        import phonenumbers

        fmts = (
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            phonenumbers.PhoneNumberFormat.NATIONAL,
            phonenumbers.PhoneNumberFormat.E164,
        )
        for _ in range(40):
            loc, fk = self._fk()
            raw = fk.phone_number()
            try:
                num = phonenumbers.parse(raw, _REGION[loc])
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(num):
                return phonenumbers.format_number(num, self.rng.choice(fmts))
        # Deterministic valid fallback: the example number of a region.
        region = self.rng.choice(("US", "GB", "DE", "FR"))
        return phonenumbers.format_number(
            phonenumbers.example_number(region), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )

    def card(self) -> str:
        num = self.fakers["en_US"].credit_card_number(
            card_type=self.rng.choice(("visa16", "mastercard", "amex", "discover"))
        )
        style = self.rng.random()
        if style < 0.4 and len(num) == 16:
            return " ".join(num[i : i + 4] for i in range(0, 16, 4))
        if style < 0.6 and len(num) == 16:
            return "-".join(num[i : i + 4] for i in range(0, 16, 4))
        return num

    def iban(self) -> str:
        loc = self.rng.choice(("de_DE", "fr_FR", "en_GB", "es_ES", "it_IT", "nl_NL"))
        iban = self.fakers[loc].iban()
        if self.rng.random() < 0.5:
            return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        return iban

    def name(self, upper: bool = False) -> str:
        _, fk = self._fk()
        n = f"{fk.first_name()} {fk.last_name()}"
        return n.upper() if upper else n

    def ip(self) -> str:
        fk = self.fakers["en_US"]
        return fk.ipv4_public() if self.rng.random() < 0.8 else fk.ipv6()

    def url(self) -> str:
        fk = self.fakers["en_US"]
        r = self.rng.random()
        if r < 0.4:
            return fk.url()
        if r < 0.7:
            return fk.uri()
        return "www." + fk.domain_name()

    # --- templates ----------------------------------------------------------------------------------

    def _sentence(self, b: _Builder) -> None:
        g = self.rng.randrange(16)
        if g == 0:
            b.text("Please contact ")
            b.value(self.name(), "PERSON")
            b.text(" at ")
            b.value(self.fakers[self.rng.choice(LOCALES)].email(), "EMAIL_ADDRESS")
            b.text(" for details. ")
        elif g == 1:
            b.value(self.name(), "PERSON")
            b.text(" called yesterday and left the number ")
            b.value(self.phone(), "PHONE_NUMBER")
            b.text(". ")
        elif g == 2:
            b.text("SPEAKER: ")
            b.value(self.name(upper=True), "PERSON")
            b.text(" WILL PRESENT THE QUARTERLY RESULTS. ")
        elif g == 3:
            b.text("You can reach the office on ")
            b.value(self.phone(), "PHONE_NUMBER")
            b.text(" during business hours. ")
        elif g == 4:
            b.text("The payment was made with card ")
            b.value(self.card(), "CREDIT_CARD")
            b.text(" last week. ")
        elif g == 5:
            b.text("Transfer the deposit to IBAN ")
            b.value(self.iban(), "IBAN_CODE")
            b.text(" before Friday. ")
        elif g == 6:
            b.text("Her social security number is ")
            b.value(self.fakers["en_US"].ssn(), "US_SSN")
            b.text(". ")
        elif g == 7:
            b.text("The request came from ")
            b.value(self.ip(), "IP_ADDRESS")
            b.text(" shortly after midnight. ")
        elif g == 8:
            b.text("More information is on ")
            b.value(self.url(), "URL")
            b.text(" today. ")
        elif g == 9:
            loc, fk = self._fk()
            b.text("Our new office is at ")
            b.value(fk.street_address(), None)
            b.text(", ")
            b.value(fk.city(), "LOCATION")
            b.text(". ")
        elif g == 10:
            b.text("We met ")
            b.value(self.name(), "PERSON")
            b.text(" in ")
            b.value(self.fakers[self.rng.choice(LOCALES)].city(), "LOCATION")
            b.text(" last spring. ")
        elif g == 11:
            b.text("She moved to ")
            b.value(self.fakers["en_US"].country(), "LOCATION")
            b.text(" with her family. ")
        elif g == 12:
            b.text("Mail ")
            b.value(self.fakers[self.rng.choice(LOCALES)].free_email(), "EMAIL_ADDRESS")
            b.text(" or call ")
            b.value(self.phone(), "PHONE_NUMBER")
            b.text(". ")
        elif g == 13:
            b.text("Thanks to ")
            b.value(self.name(), "PERSON")
            b.text(" and ")
            b.value(self.name(), "PERSON")
            b.text(" for their help. ")
        elif g == 14:
            b.text("Signed, ")
            b.value(self.name(), "PERSON")
            b.text(", ")
            b.value(self.fakers["en_US"].city(), "LOCATION")
            b.text(". ")
        else:
            b.text("Dr. ")
            b.value(self.name(), "PERSON")
            b.text(" reviewed the case notes. ")

    def _filler(self, b: _Builder, chars: int) -> None:
        written = 0
        while written < chars:
            s = self.filler.sentence(nb_words=self.rng.randint(6, 16)) + " "
            b.text(s)
            written += len(s)

    def document(self, long_chars: int = 0) -> LabeledDoc:
        """One document: PII sentences mixed with neutral filler; ``long_chars`` > 0 plants a final
        sentence with PII after that much filler (a long document)."""
        b = _Builder()
        if long_chars:
            self._filler(b, long_chars)
            # The last sentence (well within the last 100 characters) carries the PII.
            b.text("Contact ")
            b.value(self.name(), "PERSON")
            b.text(" at ")
            b.value(self.fakers["en_US"].email(), "EMAIL_ADDRESS")
            b.text(".")
            return b.build("long")
        for _ in range(self.rng.randint(2, 5)):
            self._filler(b, self.rng.randint(60, 300))
            self._sentence(b)
        self._filler(b, self.rng.randint(40, 200))
        return b.build("short")

    def documents(self, n: int, long_every: int = 0, long_chars: int = 20_000) -> list[LabeledDoc]:
        """``n`` documents; every ``long_every``-th one is long (``long_chars`` of filler first)."""
        out = []
        for i in range(n):
            is_long = long_every > 0 and (i + 1) % long_every == 0
            out.append(self.document(long_chars if is_long else 0))
        return out


def generate(n: int, seed: int = 0, long_every: int = 0, long_chars: int = 20_000) -> list[LabeledDoc]:
    """``n`` labeled documents for ``seed`` (see :class:`Generator`)."""
    return Generator(seed).documents(n, long_every=long_every, long_chars=long_chars)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--long-every", type=int, default=20)
    ap.add_argument("--long-chars", type=int, default=20_000)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    with open(args.out, "w", encoding="utf-8") as fh:
        for d in generate(args.docs, args.seed, args.long_every, args.long_chars):
            fh.write(d.to_json() + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
