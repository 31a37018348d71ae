"""The ingest normalization policy (pipelines.text.normalize) and its fast path for plain texts."""
from __future__ import annotations

import random
import unicodedata

import pytest

from pipelines.text.normalize import (
    binary_ratio,
    has_lone_surrogate,
    is_plain,
    normalize_plain,
    normalize_text,
    replace_surrogates,
)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("a\r\nb", "a\nb"),
        ("a\rb", "a\nb"),
        ("a\u0085b\u2028c\u2029d", "a\nb\nc\nd"),
        ("a\x00b\x07c\x1bd\x7fe\x9ff", "abcdef"),  # C0, DEL and C1 controls go
        ("a\tb\nc", "a\tb\nc"),  # TAB and LF stay
        ("\ufeffhello", "hello"),  # a BOM anywhere is removed
        ("  \n padded \t\n", "padded"),
        ("cafe\u0301", "caf\u00e9"),  # NFC
        ("\u212b", "\u00c5"),  # ANGSTROM SIGN -> A WITH RING (NFC singleton)
        ("plain ascii", "plain ascii"),
    ],
)
def test_policy(raw, expected):
    assert normalize_text(raw) == expected


def test_order_crlf_before_control_removal():
    # CR is a control character: line endings must be normalized before controls are removed,
    # or "a\r\nb" and "a\rb" would lose their line break.
    assert normalize_text("x\r\ny\rz") == "x\ny\nz"


def test_binary_ratio_and_surrogates():
    assert binary_ratio("") == 0.0
    assert binary_ratio("\x00\x01ab") == 0.5
    assert binary_ratio("\ufffd" * 3 + "a") == 0.75
    assert binary_ratio("a\tb\nc\r") == 0.0  # TAB, LF, CR are text
    assert has_lone_surrogate("a\ud800b") and not has_lone_surrogate("a\U0001f600b")
    assert replace_surrogates("a\udfffb") == "a\ufffdb"


_ALPHABET = (
    list("abcXYZ019 .,") + ["\t", "\n", "\r", "\x00", "\x01", "\x0b", "\x1f", "\x7f", "\x80", "\x85", "\x9f",
                            "\u00a0", "\u00e9", "e\u0301", "\u212b", "\u2028", "\u2029", "\ufeff", "\ufffd",
                            "\ud800", "\udfff", "\u4e2d", "\U0001f600", "\u0915\u094d"]
)


def test_fast_path_equals_full_policy():
    """For every text is_plain accepts, the fast path gives exactly what the full policy gives, and the
    checks it skips (binary ratio, lone surrogates) would have found nothing."""
    rng = random.Random(7)
    plain = unusual = 0
    for _ in range(20000):
        text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 24)))
        if is_plain(text):
            plain += 1
            assert normalize_plain(text) == normalize_text(text)
            assert binary_ratio(text) == 0.0 and not has_lone_surrogate(text)
        else:
            unusual += 1
            assert any(c in text for c in "\r\x00\x01\x0b\x1f\x7f\x80\x85\x9f\u2028\u2029\ufeff\ufffd\ud800\udfff")
    assert plain > 1000 and unusual > 1000  # both branches were exercised


def test_fast_path_applies_nfc():
    assert is_plain("cafe\u0301 ") and normalize_plain("cafe\u0301 ") == unicodedata.normalize("NFC", "caf\u00e9")
