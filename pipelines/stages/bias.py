"""The ``bias`` stage: bias indicators from versioned lexicons and a learned toxicity score, per document
(flag only, never drops).

Columns added: ``bias_identity_counts`` (axis -> identity-term mentions), ``bias_pronoun_counts`` (male,
female, neutral -> count), ``bias_toxic_hits`` (toxicity-lexicon hits), ``bias_group_toxic``,
``bias_n_words``, ``bias_toxicity_score`` (the calibrated score of the document's most toxic sentence, in
[0, 1]; null with ``toxicity_model: false`` or for a text without words), ``bias_flags`` (sorted list of
``group_targeted_toxicity``, ``identity_mention``, ``toxicity``) and ``bias_reason`` (null: this stage
never rejects a document for bias; ``bias:error`` only for a document whose scoring raised).

With the toxicity model (default), ``toxicity`` means ``bias_toxicity_score >= threshold`` and
``bias_group_toxic`` / ``group_targeted_toxicity`` mean an identity term in a sentence whose score reaches
the threshold; without it, both come from the lexicon. The model is loaded once per Python worker (the
:class:`DocumentStage` cache and :func:`pipelines.text.toxicity.load_toxicity_model`); only its name and
sha256 travel to the executors, and each executor checks the sha256 of the file it loads.

:func:`bias_aggregates` computes the report's figures (mention rates per axis, pronoun ratio, toxic
co-occurrence rate; overall, per source, per language) from a DataFrame that carries these columns.
"""
from __future__ import annotations

from typing import Any, Optional

import pyarrow as pa

from pipelines.text.bias import BiasAggregator, BiasScorer, LexiconError, load_lexicon
from pipelines.text.toxicity import ToxicityModelError, load_toxicity_model
from schemas.config.bias import DEFAULT_AXES

from .base import Batch, DocumentStage, StageConfigError

MAP_TYPE = pa.map_(pa.string(), pa.int64())


class BiasStage(DocumentStage):
    """Bias indicators; see the module docstring for the columns it adds."""

    name = "bias"
    columns = (
        ("bias_identity_counts", MAP_TYPE),
        ("bias_pronoun_counts", MAP_TYPE),
        ("bias_toxic_hits", pa.int64()),
        ("bias_group_toxic", pa.bool_()),
        ("bias_n_words", pa.int64()),
        ("bias_toxicity_score", pa.float64()),
        ("bias_flags", pa.list_(pa.string())),
        ("bias_reason", pa.string()),
    )

    def __init__(self, section: Any, ctx: Any) -> None:
        super().__init__(section, ctx)
        self._sha256: Optional[str] = None
        self._model_sha256: Optional[str] = None

    def prepare(self) -> None:
        """Load the lexicon and the toxicity model on the driver (fails fast when either is unusable) and
        record their versions and sha256, the threshold and the model card's measured error rates."""
        try:
            lex = load_lexicon(self.section.lexicon_dir, self.section.axes)
        except LexiconError as exc:
            raise StageConfigError(str(exc)) from None
        self._sha256 = lex.sha256
        self.ctx.assets["bias_lexicon"] = {
            "path": lex.name,
            "sha256": lex.sha256,
            "version": lex.version,
            "files": dict(lex.file_sha256),
        }
        info: dict[str, Any] = {
            "lexicon_version": lex.version,
            "axes": list(self.section.axes),
            "identity_terms": len(lex.identity),
            "toxicity_terms": len(lex.toxicity),
        }
        if self.section.toxicity_model:
            try:
                # Blinding uses every identity term of the lexicon, whatever axes are counted.
                model = load_toxicity_model(self.section.toxicity_model_path, load_lexicon(self.section.lexicon_dir),
                                            self.section.toxicity_threshold)
            except ToxicityModelError as exc:
                raise StageConfigError(str(exc)) from None
            self._model_sha256 = model.sha256
            self.ctx.assets["toxicity_model"] = {"path": model.name, "sha256": model.sha256,
                                                 "card_sha256": model.card_sha256}
            info["toxicity_model"] = model.summary()
            info["signals"] = {
                "toxicity": f"toxicity model score >= {model.threshold:g}",
                "group_targeted_toxicity": f"identity term in a sentence with toxicity model score >= "
                                           f"{model.threshold:g}",
                "identity_mention": "identity lexicon",
                "toxic_hits": "toxicity lexicon",
            }
        else:
            info["signals"] = {
                "toxicity": "toxicity lexicon (a toxic term)",
                "group_targeted_toxicity": "lexicons (identity term and toxic term in one sentence)",
                "identity_mention": "identity lexicon",
                "toxic_hits": "toxicity lexicon",
            }
        self.ctx.stage_info["bias"] = info

    def worker_payload(self) -> tuple[Any, ...]:
        """Lexicon directory, axes, the driver's lexicon sha256, and the toxicity model's name, sha256 and
        threshold (None when off); the hashes are checked on every worker."""
        s = self.section
        model = s.toxicity_model_path if s.toxicity_model else None
        return s.lexicon_dir, tuple(s.axes), self._sha256, model, self._model_sha256, s.toxicity_threshold

    @classmethod
    def load(cls, payload: tuple[Any, ...]) -> BiasScorer:
        lexicon_dir, axes, expected_sha256, model_path, model_sha256, threshold = payload
        lex = load_lexicon(lexicon_dir, axes)
        if lex.sha256 != expected_sha256:
            raise RuntimeError(
                f"the bias lexicon at {lex.name} on this executor differs from the driver's "
                f"(sha256 {lex.sha256[:12]} != {str(expected_sha256)[:12]}); deploy the same lexicon files "
                "everywhere"
            )
        if model_path is None:
            return BiasScorer(lex)
        model = load_toxicity_model(model_path, load_lexicon(lexicon_dir), threshold)
        if model.sha256 != model_sha256:
            raise RuntimeError(
                f"the toxicity model {model.name} on this executor differs from the driver's (sha256 "
                f"{model.sha256[:12]} != {str(model_sha256)[:12]}); deploy the same model file everywhere"
            )
        return BiasScorer(lex, model)

    @classmethod
    def process(cls, model: BiasScorer, batch: Batch) -> dict[str, list]:
        results = model.score_many(batch.column("text"))
        return {
            "bias_identity_counts": [sorted(r.identity.items()) for r in results],
            "bias_pronoun_counts": [sorted(r.pronouns.items()) for r in results],
            "bias_toxic_hits": [r.toxic for r in results],
            "bias_group_toxic": [r.group_toxic for r in results],
            "bias_n_words": [r.n_words for r in results],
            "bias_toxicity_score": [r.toxicity_score for r in results],
            "bias_flags": [r.flags for r in results],
            "bias_reason": [None] * len(results),
        }


def bias_aggregates(df, axes: Optional[list[str]] = None) -> dict[str, Any]:
    """Report figures from a DataFrame with the bias columns (and ``source``; ``lang`` when present).

    The counting is done by Spark (one small aggregation grouped by source and language); the rates are
    computed by :class:`pipelines.text.bias.BiasAggregator`.

    Returns:
        ``{"overall": ..., "by_source": {...}, "by_lang": {...}, "by_source_lang": {...}}``, each with
        ``docs``, ``axis_doc_rate``, ``axis_mentions_per_10k_words``, ``pronouns``, ``pronoun_male_share``,
        ``pronoun_male_to_female``, ``toxic_doc_rate`` (the ``toxicity`` flag), ``lexicon_toxic_doc_rate``,
        ``toxicity_score_mean``, ``toxicity_scored_docs``, ``group_toxic_doc_rate`` and
        ``group_toxic_rate_among_identity_docs``.
    """
    from pyspark.sql import functions as F  # deferred: pyspark; only this driver-side aggregate needs it

    axes = sorted(axes or DEFAULT_AXES)
    lang = F.col("lang") if "lang" in df.columns else F.lit(None).cast("string")
    src = F.col("source") if "source" in df.columns else F.lit(None).cast("string")
    idc, prc = F.col("bias_identity_counts"), F.col("bias_pronoun_counts")
    score = F.col("bias_toxicity_score") if "bias_toxicity_score" in df.columns else F.lit(None).cast("double")
    aggs = [
        F.count(F.lit(1)).alias("docs"),
        F.sum("bias_n_words").alias("words"),
        F.sum(F.when(F.array_contains(F.col("bias_flags"), "toxicity"), 1).otherwise(0)).alias("docs_toxic"),
        F.sum(F.when(F.col("bias_toxic_hits") > 0, 1).otherwise(0)).alias("docs_lexicon_toxic"),
        F.count(score).alias("docs_scored"),
        F.sum(score).alias("score_sum"),
        F.sum("bias_toxic_hits").alias("toxic_hits"),
        F.sum(F.when(F.col("bias_group_toxic"), 1).otherwise(0)).alias("docs_group_toxic"),
        F.sum(F.when(F.size(idc) > 0, 1).otherwise(0)).alias("docs_with_identity"),
    ]
    for i, a in enumerate(axes):
        v = F.coalesce(F.element_at(idc, F.lit(a)), F.lit(0))
        aggs.append(F.sum(v).alias(f"m{i}"))
        aggs.append(F.sum(F.when(v > 0, 1).otherwise(0)).alias(f"d{i}"))
    genders = ("female", "male", "neutral")
    for g in genders:
        aggs.append(F.sum(F.coalesce(F.element_at(prc, F.lit(g)), F.lit(0))).alias(f"p_{g}"))
    rows = df.groupBy(src.alias("_source"), lang.alias("_lang")).agg(*aggs).collect()
    agg = BiasAggregator(axes)
    for r in rows:
        g = agg.group((r["_source"] or "unknown", r["_lang"] or "und"))
        g["docs"] += int(r["docs"])
        g["words"] += int(r["words"] or 0)
        g["docs_toxic"] += int(r["docs_toxic"] or 0)
        g["docs_lexicon_toxic"] += int(r["docs_lexicon_toxic"] or 0)
        g["docs_scored"] += int(r["docs_scored"] or 0)
        g["score_sum"] += float(r["score_sum"] or 0.0)
        g["toxic_hits"] += int(r["toxic_hits"] or 0)
        g["docs_group_toxic"] += int(r["docs_group_toxic"] or 0)
        g["docs_with_identity"] += int(r["docs_with_identity"] or 0)
        for i, a in enumerate(axes):
            if r[f"m{i}"]:
                g["mentions"][a] += int(r[f"m{i}"])
                g["docs_with_axis"][a] += int(r[f"d{i}"])
        for gd in genders:
            if r[f"p_{gd}"]:
                g["pronouns"][gd] += int(r[f"p_{gd}"])
    return agg.report()
