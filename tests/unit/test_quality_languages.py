"""Per-language behaviour of the quality rules: segmentation, stop words, overrides, configuration."""
from __future__ import annotations

import pytest

from pipelines.text.quality import SIGNAL_NAMES, QualityEvaluator, compute_signals
from pipelines.text.stopwords import STOPWORDS, stopwords_for, stopwords_sha256
from schemas.config import ConfigError, load_config
from schemas.config.quality import QUALITY_RULES, RULE_NAMES, QualitySection

# Texts written for these tests.
ZH = """我们的城市在河边，每天早上都有很多人在公园里散步。春天的时候，路边的花开得特别漂亮，孩子们喜欢在草地上跑来跑去。
周末我常常和朋友一起去图书馆看书，然后在附近的小饭馆吃午饭。那里的面条很好吃，价格也不贵。
晚上天气凉快的时候，老人们会在广场上跳舞，年轻人则坐在长椅上聊天。"""
JA = (
    "私の町には小さな川が流れていて、朝になると多くの人が川沿いを散歩します。"
    "春には桜が咲き、週末になると家族連れがお弁当を持って集まります。\n"
    "駅の近くには古い本屋があり、店主のおじいさんはいつも笑顔で迎えてくれます。\n"
    "夜になると商店街の明かりがともり、仕事帰りの人たちが夕食の買い物をしています。"
)
TH = """เมืองของเราอยู่ริมแม่น้ำ ทุกเช้ามีคนจำนวนมากมาเดินเล่นในสวนสาธารณะ ในฤดูฝนต้นไม้ทุกต้นเป็นสีเขียวสดใส
วันหยุดสุดสัปดาห์ฉันมักจะไปห้องสมุดกับเพื่อน แล้วไปกินข้าวกลางวันที่ร้านอาหารเล็กๆ ใกล้ตลาด
ตอนเย็นอากาศเย็นสบาย ผู้สูงอายุออกมาออกกำลังกายที่ลานกว้าง ส่วนเด็กๆ วิ่งเล่นกันอย่างสนุกสนาน"""
DE = """Unsere Stadt liegt an einem breiten Fluss, und jeden Morgen gehen viele Menschen im Park spazieren.
Im Frühling blühen die Bäume entlang der Straßen, und die Kinder spielen auf den Wiesen bis zum Abend.
Am Wochenende besuche ich oft mit Freunden die Bibliothek, danach essen wir in einem kleinen Gasthaus.
Die Nudeln dort sind ausgezeichnet, und die Preise sind für alle Familien erschwinglich.
Wenn es abends kühler wird, tanzen die älteren Leute auf dem Marktplatz, während die Jugend plaudert."""
DE_SHORT = "Das Wetter ist heute schön, und wir gehen an den See. Die Kinder sind froh. Wir nehmen das Boot."


@pytest.mark.parametrize("text,lang", [(ZH, "zh"), (JA, "ja"), (TH, "th")])
def test_unsegmented_scripts_count_characters_and_skip_word_rules(text, lang):
    signals, reason = QualityEvaluator(QualitySection()).evaluate(text, lang)
    assert reason is None
    # Units are characters: far more than the whitespace tokens (which are only a handful).
    assert signals["q_words"] > 5 * len(text.split())
    assert signals["q_mean_word_len"] is None
    assert signals["q_distinct_stop_words"] is None
    assert signals["q_alpha_words"] == 1.0


def test_thai_has_no_terminal_punctuation_rules():
    signals = compute_signals(TH, "th")
    assert signals["q_punct_lines"] is None and signals["q_c4_sentences"] is None
    zh = compute_signals(ZH, "zh")
    assert zh["q_punct_lines"] == 1.0 and zh["q_c4_sentences"] == 5  # 。 ends sentences without spaces


def test_unsegmented_text_fails_short_doc_on_characters():
    short = "今天天气很好。我们去公园。"
    assert QualityEvaluator(QualitySection()).evaluate(short, "zh")[1] == "quality:gopher_short_doc"


def test_stop_words_follow_the_document_language():
    ev = QualityEvaluator(QualitySection())
    de_as_de, reason_de = ev.evaluate(DE, "de")
    distinct_de = {w.lower().strip(".,") for w in DE.split()} & STOPWORDS["de"]
    assert reason_de is None and de_as_de["q_distinct_stop_words"] == len(distinct_de) >= 5
    de_as_en, reason_en = ev.evaluate(DE, None)  # no lang: default_language (en) applies
    assert de_as_en["q_distinct_stop_words"] < 2 and reason_en == "quality:gopher_stop_words"


def test_default_language_null_skips_stop_words():
    signals, reason = QualityEvaluator(QualitySection(default_language=None)).evaluate(DE, None)
    assert signals["q_distinct_stop_words"] is None and reason is None


def test_language_without_list_skips_stop_words():
    assert stopwords_for("sw") is None
    assert compute_signals(DE, "sw")["q_distinct_stop_words"] is None


def test_per_language_override():
    section = QualitySection(languages={"deu": {"gopher_short_doc": 10}})
    ev = QualityEvaluator(section)
    assert ev.evaluate(DE_SHORT, "de")[1] is None
    assert ev.evaluate(DE_SHORT, "en")[1] == "quality:gopher_short_doc"
    assert section.rules_for("de")["gopher_short_doc"] == 10.0
    assert section.rules_for("de")["gopher_long_doc"] == 100_000.0  # not overridden: inherited


def test_override_can_switch_a_rule_off_for_one_language():
    section = QualitySection(languages={"de": {"gopher_short_doc": False}})
    assert QualityEvaluator(section).evaluate(DE_SHORT, "de")[1] is None


def test_error_and_null_text():
    columns, reasons = QualityEvaluator(QualitySection()).evaluate_many([None, DE], ["en", "de"])
    assert reasons == ["quality:error", None]
    assert all(columns[name][0] is None for name in SIGNAL_NAMES)
    assert columns["q_words"][1] > 50


def test_empty_text_fails_short_doc():
    signals, reason = QualityEvaluator(QualitySection()).evaluate("", "en")
    assert reason == "quality:gopher_short_doc" and signals["q_words"] == 0


def test_rules_read_existing_signals():
    assert {r.signal for r in QUALITY_RULES} <= set(SIGNAL_NAMES)
    assert len(set(RULE_NAMES)) == len(RULE_NAMES)


def test_config_thresholds():
    q = QualitySection(c4_lorem_ipsum=0, gopher_short_doc=False)
    assert q.c4_lorem_ipsum == 0.0 and q.c4_lorem_ipsum is not False  # 0 is a threshold, not "off"
    assert q.gopher_short_doc is False
    for bad in ({"gopher_short_doc": True}, {"gopher_short_doc": -1}, {"gopher_short_doc": "many"}, {"nope": 1}):
        with pytest.raises(ValueError):
            QualitySection(**bad)
    with pytest.raises(ValueError, match="not a language code"):
        QualitySection(languages={"german": {}})
    with pytest.raises(ValueError, match="both mean"):
        QualitySection(languages={"de": {}, "deu": {}})


def test_config_round_trips_through_json_and_set():
    cfg = load_config(
        None, ["quality.enabled=true", "quality.gopher_short_doc=off", "quality.languages.ja.gopher_short_doc=200"]
    )
    q = cfg.quality
    assert q.gopher_short_doc is False and q.rules_for("ja")["gopher_short_doc"] == 200.0
    again = QualitySection.model_validate(q.model_dump(mode="json"))
    assert again == q
    with pytest.raises(ConfigError, match="quality.languages.ja.gopher_shortdoc"):
        load_config(None, ["quality.languages.ja.gopher_shortdoc=1"])


def test_stopword_lists():
    assert STOPWORDS["en"] == frozenset("the be to of and that have with".split())
    assert len(STOPWORDS) >= 25 and all(len(v) >= 8 for v in STOPWORDS.values())
    assert len(stopwords_sha256()) == 64


def test_multilingual_preset():
    cfg = load_config("multilingual")
    assert cfg.language.enabled and cfg.quality.enabled and cfg.language.main_share
    assert {"en", "zh", "ja", "th", "ar", "hi", "ko", "ru"} <= set(cfg.language.keep)
    q = cfg.quality
    assert q.rules_for("zh")["gopher_short_doc"] == 100.0
    assert q.rules_for("lo")["gopher_dup_5gram"] == 0.35  # YAML anchor shared by th, lo, km, my
    assert q.rules_for("en") == QualitySection().rules_for("en")
    ev = QualityEvaluator(q)
    for text, lang in ((ZH, "zh"), (JA, "ja"), (TH, "th"), (DE, "de")):
        assert ev.evaluate(text, lang)[1] is None, lang
    # About 70 Chinese characters are enough for the default 50 units but not for the preset's 100.
    first = ZH.split("\n")[0] + "\n晚上天气很凉快。"
    assert 50 <= compute_signals(first, "zh")["q_words"] < 100
    assert ev.evaluate(first, "zh")[1] == "quality:gopher_short_doc"
    assert QualityEvaluator(QualitySection()).evaluate(first, "zh")[1] is None
