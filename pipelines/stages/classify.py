"""The ``classify`` stage: supervised fastText classifiers over documents (DCLM-style quality filtering).

Columns added: ``classify_<name>`` per configured model (the probability of the model's label; null where
the model did not apply: a document whose ``lang`` is not in the model's ``languages``, or one the stage
failed on) and ``classify_reason``: null, ``classify:<name>`` (the first model in list order whose rule
rejects the document) or ``classify:error``.

Scores are computed per Arrow batch in Python workers (:class:`DocumentStage`): each model is loaded once
per worker (the worker cache, keyed by the models' sha256, and the per-process cache of
:func:`pipelines.text.classifier.load_classifier`), texts are prepared as the model was trained
(:func:`pipelines.text.classifier.prepare_text`) and scored by fastText's batch prediction.

Rules:

* ``min_score``: a scored document fails when its score is below it.
* ``keep_top_fraction``: the model's scored documents of the whole run are ranked by score (highest first)
  and then ``doc_id``; the first ``ceil(fraction * n)`` pass. The cut is computed exactly on the driver
  from the materialized scores (a sort of the narrow ``(score, doc_id)`` table), so it depends neither on
  the input order nor on the partitioning. Each model's cut is over every document it scored, whatever the
  other models decided, which keeps models independent (and the what-if exact).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

import pyarrow as pa

from pipelines.text.assets import asset_spec, resolve_asset
from pipelines.text.classifier import (
    ClassifierModelError,
    FastTextClassifier,
    load_classifier,
    prepare_lines,
    read_card,
    top_fraction_count,
)
from storage.files import file_sha256

from .base import Batch, DocumentStage, StageConfigError

log = logging.getLogger(__name__)

#: The worker output holding every model's score, in model order (split into classify_<name> columns).
SCORES = "_classify_scores"
REASON = "classify_reason"
ERROR_REASON = "classify:error"


def score_column(name: str) -> str:
    """The column of model ``name``'s scores: ``classify_<name>``."""
    return f"classify_{name}"


class ClassifyStage(DocumentStage):
    """fastText classifiers; see the module docstring for the columns it adds and its rules."""

    name = "classify"
    columns = ((SCORES, pa.list_(pa.float64())), (REASON, pa.string()))
    optional_reads = ("lang",)

    def __init__(self, section: Any, ctx: Any) -> None:
        super().__init__(section, ctx)
        #: (name, resolved path, sha256) of every model, in config order.
        self._models: list[tuple[str, str, str]] = []

    # ----------------------------------------------------------------------------------- driver side
    def prepare(self) -> None:
        """Resolve and load every model on the driver: a missing file or a label the model lacks fails here,
        before any data moves. Records each model's sha256 in ``ctx.assets`` and its settings and card
        figures in ``ctx.stage_info``."""
        if any(m.languages for m in self.section.models) and not self.ctx.config.language.enabled:
            names = ", ".join(m.name for m in self.section.models if m.languages)
            raise StageConfigError(
                f"classify model(s) {names} apply to some languages only, which needs the language stage; "
                "set language.enabled: true or remove the models' languages"
            )
        info = []
        for i, spec in enumerate(self.section.models):
            where = f"classify.models[{i}] ({spec.name})"
            try:
                path = resolve_asset(spec.path)
            except FileNotFoundError as exc:
                raise StageConfigError(f"{where}: {exc}") from None
            if not path.is_file():
                raise StageConfigError(
                    f"{where}: no model file at {path}; point path to a supervised fastText model (.bin or .ftz) "
                    "that exists on the driver and every executor, or train one with `corpusforge classifier train`"
                )
            try:
                # Loaded here only to check the labels, and not cached: the driver does not score, so a large
                # model (DCLM's takes gigabytes) is freed again once checked.
                clf = FastTextClassifier(str(path), spec.label)
                label, labels = clf.label, list(clf.labels)
                del clf
            except ClassifierModelError as exc:
                raise StageConfigError(f"{where}: {exc}") from None
            sha = file_sha256(path)
            self._models.append((spec.name, str(path), sha))
            self.ctx.assets[f"classify_model:{spec.name}"] = {
                "path": asset_spec(spec.path), "sha256": sha, "label": label, "labels": labels,
            }
            card = read_card(path)
            entry: dict[str, Any] = {
                "name": spec.name,
                "column": score_column(spec.name),
                "model": Path(path).name,
                "label": label,
                "rule": "min_score" if spec.min_score is not None else "keep_top_fraction",
                "min_score": spec.min_score,
                "keep_top_fraction": spec.keep_top_fraction,
                "languages": spec.languages,
                "lowercase": spec.lowercase,
                "max_chars": spec.max_chars,
            }
            if card is not None:
                entry["card"] = {"sha256_matches": (card.get("model") or {}).get("sha256") == sha,
                                 "validation": card.get("validation"), "preparation": card.get("preparation")}
                prep = card.get("preparation") or {}
                if prep and (prep.get("lowercase") != spec.lowercase or prep.get("max_chars") != spec.max_chars):
                    log.warning("%s: the model card says it was trained with lowercase=%s, max_chars=%s; the "
                                "config scores with lowercase=%s, max_chars=%s", where, prep.get("lowercase"),
                                prep.get("max_chars"), spec.lowercase, spec.max_chars)
            info.append(entry)
        self.ctx.stage_info["classify"] = {"models": info}

    def worker_payload(self) -> tuple[Any, tuple[tuple[str, str, str], ...]]:
        """The section and every model's (name, path, sha256); the hashes are part of the worker cache key."""
        return self.section, tuple(self._models)

    def apply(self, df: Any) -> Any:
        """Score (Arrow batches), split the scores into ``classify_<name>`` columns, then apply the rules."""
        from pyspark.sql import functions as F  # deferred: pyspark; Python workers import this module too

        self.ensure_prepared()
        names = [spec.name for spec in self.section.models]
        if any(m.languages for m in self.section.models) and "lang" not in df.columns:
            raise StageConfigError("classify: models with languages need the 'lang' column; run the language "
                                   "stage before classify")
        ours = {score_column(n) for n in names}
        base = df.drop(*[c for c in df.columns if c in ours])
        scored = super().apply(base)
        keep = [c for c in base.columns if c not in (SCORES, REASON)]
        scored = scored.select(
            *keep,
            *[F.col(SCORES).getItem(i).alias(score_column(n)) for i, n in enumerate(names)],
            F.col(REASON).alias("_classify_error"),
        )
        if any(m.keep_top_fraction is not None for m in self.section.models):
            # The cuts need every score of the run: write the scores once, so fastText runs once per document.
            path = self.ctx.work_dir / "classify-scores"
            scored.write.mode("overwrite").option("compression", "lz4").parquet(str(path))
            scored = self.ctx.spark.read.parquet(str(path))
        cuts = self._cuts(scored)
        fails = []
        for spec in self.section.models:
            s = F.col(score_column(spec.name))
            if spec.min_score is not None:
                fail = s.isNotNull() & (s < F.lit(float(spec.min_score)))
            else:
                cut = cuts.get(spec.name)
                if cut is None:
                    continue  # the model scored nothing: nothing to reject
                cut_score, cut_id = cut
                kept = (s > F.lit(cut_score)) | ((s == F.lit(cut_score)) & (F.col("doc_id") <= F.lit(cut_id)))
                fail = s.isNotNull() & ~kept
            fails.append(F.when(fail, F.lit(f"classify:{spec.name}")))
        reason = F.coalesce(F.col("_classify_error"), *fails) if fails else F.col("_classify_error")
        return scored.withColumn(REASON, reason).drop("_classify_error")

    def _cuts(self, scored: Any) -> dict[str, Optional[tuple[float, str]]]:
        """The exact keep_top_fraction cut of every such model: its last kept (score, doc_id), or None."""
        from pyspark.sql import functions as F  # deferred: pyspark, driver side only

        out: dict[str, Optional[tuple[float, str]]] = {}
        facts = {}
        for spec in self.section.models:
            if spec.keep_top_fraction is None:
                continue
            col = score_column(spec.name)
            narrow = scored.filter(F.col(col).isNotNull()).select(F.col(col).alias("s"), "doc_id")
            n = narrow.count()
            k = top_fraction_count(n, spec.keep_top_fraction)
            cut = None
            if k > 0:
                # A total order (doc_ids are unique), so the k-th row is the same for any partitioning.
                ordered = narrow.orderBy(F.col("s").desc(), F.col("doc_id").asc()).rdd
                rows = ordered.zipWithIndex().filter(lambda x, k=k: x[1] == k - 1).map(lambda x: x[0]).collect()
                cut = (float(rows[0]["s"]), str(rows[0]["doc_id"]))
            out[spec.name] = cut
            facts[spec.name] = {"scored": n, "kept": k, "cut_score": None if cut is None else cut[0],
                                "cut_doc_id": None if cut is None else cut[1]}
        if facts:
            self.ctx.stage_info.setdefault("classify", {})["cuts"] = facts
        return out

    # ----------------------------------------------------------------------------------- worker side
    @classmethod
    def load(cls, payload: tuple[Any, tuple[tuple[str, str, str], ...]]) -> tuple[Any, list]:
        section, models = payload
        loaded = []
        for spec, (name, path, sha) in zip(section.models, models):
            # Same file as on the driver: a different model on one executor would score silently differently.
            if file_sha256(path) != sha:
                raise RuntimeError(
                    f"the classify model {name} at {path} on this executor differs from the driver's (sha256 "
                    f"{file_sha256(path)[:12]} != {sha[:12]}); deploy the same model file everywhere"
                )
            langs = frozenset(spec.languages) if spec.languages else None
            loaded.append((load_classifier(path, spec.label), langs, spec.lowercase, spec.max_chars))
        return section, loaded

    @classmethod
    def process(cls, model: tuple[Any, list], batch: Batch) -> dict[str, list]:
        section, loaded = model
        texts = batch.column("text")
        n = len(texts)
        langs = batch.column("lang")
        step = section.batch_size
        columns: list[list[Optional[float]]] = []
        for clf, languages, lowercase, max_chars in loaded:
            if languages is None:  # every document, in fastText calls of at most batch_size lines
                scores: list[Optional[float]] = []
                for start in range(0, n, step):
                    lines = prepare_lines(texts[start:start + step], lowercase=lowercase, max_chars=max_chars)
                    scores.extend(clf.predict_lines(lines))
            else:
                rows = [i for i in range(n) if langs is not None and langs[i] in languages]
                scores = [None] * n
                for start in range(0, len(rows), step):
                    chunk = rows[start:start + step]
                    lines = prepare_lines([texts[i] for i in chunk], lowercase=lowercase, max_chars=max_chars)
                    for i, score in zip(chunk, clf.predict_lines(lines)):
                        scores[i] = score
            columns.append(scores)
        if len(columns) == 1:
            rows_out = [[score] for score in columns[0]]
        else:
            rows_out = [list(row) for row in zip(*columns)] if columns else [[] for _ in range(n)]
        return {SCORES: rows_out, REASON: [None] * n}
