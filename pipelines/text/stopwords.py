"""Stop-word lists for the Gopher stop-word rule, by normalized language code.

English is Gopher's own list (the, be, to, of, and, that, have, with: a document needs at least two of
them). The other lists were written for this project: each holds the most frequent function words
(articles, conjunctions, prepositions, the copula) of the language, about a dozen, so that ordinary
running text of any length above the minimum word count contains several. Languages without a list, and
documents written without spaces between words (Chinese, Japanese, Thai, ...), skip the rule.

Words are matched lower-cased, with surrounding punctuation stripped. The rule counts distinct stop words
(``q_distinct_stop_words``) for every language: a repeated word counts once.
"""
from __future__ import annotations

import hashlib
import json
from typing import Optional

_LISTS: dict[str, str] = {
    "en": "the be to of and that have with",
    "de": "der die das und ist zu den mit von nicht ein eine sich auf für dem",
    "fr": "le la les de des et est un une que qui dans pour pas en du au il",
    "es": "el la los las de que y en un una es por con para no se del",
    "it": "il la di che e è un una per non in del della con sono si",
    "pt": "o a os as de que e é um uma do da em para com não no na",
    "ca": "el la de i que a en un una per no amb es del els les",
    "nl": "de het een en van is dat in op te niet met voor zijn",
    "sv": "och att det som en är på för med av inte den till",
    "da": "og at det som en er på for med af ikke den til har",
    "no": "og at det som en er på for med av ikke den til har",
    "nb": "og at det som en er på for med av ikke den til har",
    "nn": "og at det som ein er på for med av ikkje den til har",
    "fi": "ja on ei se että oli hän mutta kun niin myös tämä",
    "pl": "i w nie na się z że do to jest jak o ale co",
    "cs": "a je v se na že to s z o do ale jako by",
    "sk": "a je v sa na že to s z o do ale ako by",
    "ro": "și de în la nu cu o un că pe este care mai",
    "hu": "a az és hogy nem is egy van meg de ez csak",
    "tr": "ve bir bu da de için ile ne çok gibi daha o olan",
    "id": "yang dan di itu dengan untuk tidak ini dari dalam akan ada",
    "ms": "yang dan di itu dengan untuk tidak ini dari dalam akan ada",
    "vi": "và của là có không được trong cho một những các người này",
    "ru": "и в не на что с по это как он к но из я а",
    "uk": "і в у не на що з до це як та але він й",
    "bg": "и в не на да се с за от че е по това",
    "el": "και το να του η της που σε με τα ο είναι για δεν",
    "ar": "في من على أن إلى التي الذي عن ما لا هذا مع",
    "fa": "و در به از که این را با است برای آن",
    "hi": "के का की है में और को से पर यह नहीं एक हैं",
}

#: Normalized language code -> frozenset of stop words.
STOPWORDS: dict[str, frozenset[str]] = {lang: frozenset(words.split()) for lang, words in _LISTS.items()}


def stopwords_for(lang: Optional[str]) -> Optional[frozenset[str]]:
    """The stop-word set of a normalized language code, or None when the project has no list for it."""
    if lang is None:
        return None
    return STOPWORDS.get(lang)


def stopwords_sha256() -> str:
    """sha256 of the canonical JSON of every list (recorded in run.json as an asset hash)."""
    canonical = json.dumps({k: sorted(v) for k, v in sorted(STOPWORDS.items())}, ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()
