"""Bias indicators: planted sentences, hard negatives, lexicon loading and hashing, aggregates."""
from __future__ import annotations

import hashlib
import shutil

import pytest

from pipelines.text.bias import (
    DEFAULT_LEXICON_DIR,
    FLAG_GROUP_TOXIC,
    FLAG_IDENTITY,
    FLAG_TOXIC,
    BiasAggregator,
    BiasScorer,
    LexiconError,
    load_lexicon,
)


@pytest.fixture(scope="module")
def scorer():
    return BiasScorer(load_lexicon())


def test_lexicon_is_this_repositorys_versioned_files():
    lex = load_lexicon()
    assert lex.path == DEFAULT_LEXICON_DIR and (DEFAULT_LEXICON_DIR / "README.md").is_file()
    assert lex.version == (DEFAULT_LEXICON_DIR / "VERSION").read_text().strip()
    assert lex.axes == sorted(
        ["gender", "race_ethnicity", "religion", "nationality", "age", "disability", "sexual_orientation"]
    )
    assert (
        lex.file_sha256["toxicity.tsv"]
        == hashlib.sha256((DEFAULT_LEXICON_DIR / "toxicity.tsv").read_bytes()).hexdigest()
    )


@pytest.mark.parametrize(
    "text, axis",
    [
        ("Two women and a man walked in.", "gender"),
        ("Black people marched downtown.", "race_ethnicity"),
        ("Many Muslims and Jews attended.", "religion"),
        ("The Mexican team won.", "nationality"),
        ("Services for the elderly improved.", "age"),
        ("She is autistic.", "disability"),
        ("The lesbian couple moved in.", "sexual_orientation"),
    ],
)
def test_each_axis(scorer, text, axis):
    assert axis in scorer.score(text).identity


def test_multiword_plural_case_possessive(scorer):
    r = scorer.score("The WOMEN'S team, trans women, Non-Binary people, senior citizens and people of color.")
    # women (possessive), trans women (one multi-word mention, not 'women' again), non-binary
    assert r.identity["gender"] == 3
    assert r.identity["age"] == 1 and r.identity["race_ethnicity"] == 1
    assert scorer.score("An African-American author").identity == {"race_ethnicity": 1}
    assert scorer.score("An African American author").identity == {"race_ethnicity": 1}


def test_hard_negatives_inside_words(scorer):
    # 'he' in 'the', 'man' in 'manager'/'Germany', 'gay' in 'Gaylord', 'jew' in 'jewel', 'asian' in 'Caucasians'?
    r = scorer.score("The manager of the theme park in Germany admired the jewel; Gaylord the mansion owner agreed.")
    assert r.identity == {} and r.pronouns == {}
    # 'caucasian' is itself a term; 'asian' inside it must not count twice.
    assert scorer.score("Caucasians").identity == {"race_ethnicity": 1}


def test_hard_negatives_non_identity_senses(scorer):
    negatives = [
        "The black car and the white paper sat in the White House.",
        "Check the blind spot; it was a double blind trial; he turned a blind eye.",
        "Polish the silver before dinner.",
        "We ate French fries by the Indian Ocean.",
        "Plug the male connector into the female port.",
        "The trash can is full and the garbage truck is late.",
    ]
    for text in negatives:
        r = scorer.score(text)
        assert r.identity == {} and r.toxic == 0, text
    # The same words in an identity sense do count.
    assert scorer.score("Black women and white men voted.").identity == {"race_ethnicity": 2, "gender": 2}
    assert scorer.score("Polish workers arrived.").identity == {"nationality": 1}
    assert scorer.score("Blind people use screen readers.").identity == {"disability": 1}


def test_pronouns(scorer):
    r = scorer.score("He said she told him that her sister and they would come; theirs is the house. The hero.")
    assert r.pronouns == {"female": 2, "male": 2, "neutral": 2}


def test_toxicity_and_group_targeted(scorer):
    r = scorer.score("Those stupid immigrants ruin everything. The weather was nice today.")
    assert r.toxic == 1 and r.group_toxic and r.group_toxic_sentences == 1
    assert r.flags == [FLAG_GROUP_TOXIC, FLAG_IDENTITY, FLAG_TOXIC]
    # Identity and toxic terms in different sentences: no group-targeted flag.
    r2 = scorer.score("Many Muslims live here. The referee was an idiot!")
    assert r2.toxic == 1 and r2.identity == {"religion": 1} and not r2.group_toxic
    assert r2.flags == [FLAG_IDENTITY, FLAG_TOXIC]
    # A line break ends a sentence too.
    assert not scorer.score("Muslims\nidiots").group_toxic
    assert scorer.score("I hate Muslims").group_toxic
    assert scorer.score("").flags == [] and scorer.score(None).n_words == 0


def test_lexicon_errors_name_file_and_line(tmp_path):
    d = tmp_path / "lex"
    shutil.copytree(DEFAULT_LEXICON_DIR, d)
    (d / "identity_terms.tsv").write_text("gender\twoman\tplurl=women\n", encoding="utf-8")
    with pytest.raises(LexiconError) as e:
        load_lexicon(d)
    assert "identity_terms.tsv:1" in str(e.value) and "plurl" in str(e.value)
    (d / "toxicity.tsv").unlink()
    with pytest.raises(LexiconError):
        load_lexicon(d)


def test_custom_lexicon_and_hash_changes(tmp_path):
    d = tmp_path / "lex"
    shutil.copytree(DEFAULT_LEXICON_DIR, d)
    with open(d / "toxicity.tsv", "a", encoding="utf-8") as fh:
        fh.write("grumpkin\n")
    lex = load_lexicon(d)
    assert lex.sha256 != load_lexicon().sha256
    assert BiasScorer(lex).score("What grumpkins.").toxic == 1
    with pytest.raises(LexiconError):
        load_lexicon(d, axes=["gender", "no_such_axis"])
    only = load_lexicon(d, axes=["gender"])
    assert BiasScorer(only).score("Muslim women").identity == {"gender": 1}


def test_aggregates(scorer):
    agg = BiasAggregator(load_lexicon().axes)
    docs = [
        ("web", "en", "He and he and she. Muslim women met."),
        ("web", "en", "Stupid immigrants everywhere."),
        ("books", "de", "Nothing to see here."),
        ("books", "en", "She wrote. He read. Idiots!"),
    ]
    for src, lang, text in docs:
        agg.add_result(src, lang, scorer.score(text))
    rep = agg.report()
    o = rep["overall"]
    assert o["docs"] == 4
    assert o["pronouns"] == {"female": 2, "male": 3}
    assert o["pronoun_male_share"] == pytest.approx(0.6)
    assert o["axis_doc_rate"]["religion"] == pytest.approx(0.25)
    assert o["axis_doc_rate"]["nationality"] == pytest.approx(0.25)
    assert o["toxic_doc_rate"] == pytest.approx(0.5)
    assert o["group_toxic_doc_rate"] == pytest.approx(0.25)
    assert o["group_toxic_rate_among_identity_docs"] == pytest.approx(0.5)
    assert rep["by_source"]["web"]["docs"] == 2 and rep["by_source"]["books"]["docs"] == 2
    assert rep["by_lang"]["de"]["docs"] == 1 and rep["by_lang"]["en"]["docs"] == 3
    assert rep["by_source_lang"]["books/en"]["toxic_doc_rate"] == pytest.approx(1.0)
    # Mergeable: two halves give the same report.
    a, b = BiasAggregator(load_lexicon().axes), BiasAggregator(load_lexicon().axes)
    for i, (src, lang, text) in enumerate(docs):
        (a if i % 2 else b).add_result(src, lang, scorer.score(text))
    assert a.merge(b).report() == rep
