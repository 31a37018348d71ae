"""What-if over stored classifier scores: keep rates of a finished run under other ``classify`` rules.

The classify stage stores every model's score (``classify_<name>``) in ``curated/`` and ``rejected/``, so
other ``min_score`` or ``keep_top_fraction`` values replay without running a model again::

    corpusforge whatif --run out/ --set classify.models.dclm.keep_top_fraction=0.2
    corpusforge whatif --run out/ --set 'classify.models[0].min_score=0.8'

A model is named by its ``name`` or its position (``models.0`` or ``models[0]``). Setting ``min_score``
replaces a ``keep_top_fraction`` rule and the other way round. Replaying the run's own rules reproduces its
classify reasons exactly (``replay_matches_run``): the cut of a ``keep_top_fraction`` model is recomputed
over the same scores with the same ranking (score, then ``doc_id``).

What cannot be replayed: the model, its label, ``languages`` and the text preparation (the scores would
change). Documents that the new rules keep but the run rejected never reached later stages, so the overall
keep rate is an estimate; the classify keep rate is exact.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import yaml

from pipelines.text.classifier import top_fraction_count
from schemas.columns import DROP_REASON, reason_column
from schemas.config import override_error_message
from schemas.config.classify import ClassifySection

CLASSIFY_REASON = reason_column("classify")
ERROR_REASON = "classify:error"
_RULES = ("min_score", "keep_top_fraction")
_KEY_RE = re.compile(r"^classify\.models(?:\.([A-Za-z0-9_]+)|\[(\d+)\])\.([a-z_]+)$")


class ClassifyWhatIfError(ValueError):
    """The classify what-if cannot be computed; the message says how to fix it."""


def is_classify_override(item: str) -> bool:
    """Whether a ``--set`` item is about the classify stage."""
    return item.split("=", 1)[0].strip().startswith("classify.")


def classify_section_with(config: dict[str, Any], overrides: Sequence[str]) -> ClassifySection:
    """The run's classify section with ``classify.models.<name|index>.<rule>=<value>`` overrides applied.

    Raises:
        ClassifyWhatIfError: the run did not run classify, an override names no model or no rule, or the
            result is invalid.
    """
    data = dict(config.get("classify") or {})
    if not data.get("enabled"):
        raise ClassifyWhatIfError("this run did not run the classify stage (classify.enabled was false)")
    models = [dict(m) for m in data.get("models") or []]
    for item in overrides:
        if "=" not in item:
            raise ClassifyWhatIfError(f"--set expects KEY=VALUE, got {item.split('=', 1)[0]!r}")
        key, raw = item.split("=", 1)
        m = _KEY_RE.match(key.strip())
        if not m or m.group(3) not in _RULES:
            raise ClassifyWhatIfError(
                f"--set {key.strip()}: the classify what-if changes model rules only; write "
                "classify.models.<name>.min_score=<value> or classify.models.<name>.keep_top_fraction=<value> "
                "(or models[<index>] instead of the name)"
            )
        ref, index, rule = m.group(1), m.group(2), m.group(3)
        if index is None and ref is not None and ref.isdigit():
            index = ref
        if index is not None:
            if int(index) >= len(models):
                raise ClassifyWhatIfError(f"--set {key.strip()}: the run has {len(models)} classify model(s)")
            target = models[int(index)]
        else:
            found = [x for x in models if x.get("name") == ref]
            if not found:
                names = ", ".join(str(x.get("name")) for x in models)
                raise ClassifyWhatIfError(f"--set {key.strip()}: no classify model named {ref!r} (models: {names})")
            target = found[0]
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise ClassifyWhatIfError(f"--set {key.strip()}: the value is not a number") from None
        target[rule] = value
        target["keep_top_fraction" if rule == "min_score" else "min_score"] = None
    data["models"] = models
    try:
        return ClassifySection.model_validate(data)
    except Exception as exc:  # pydantic.ValidationError: name the keys, never echo values
        message = override_error_message(exc, "classify")
        if message:
            raise ClassifyWhatIfError(message) from None
        raise


def read_run_scores(run_dir: Union[str, Path], names: Sequence[str]) -> pa.Table:
    """``doc_id``, ``classify_reason``, ``drop_reason`` and every model's score column of a run's documents,
    with ``_curated`` (True for rows of ``curated/``)."""
    run_dir = Path(run_dir)
    wanted = ["doc_id", CLASSIFY_REASON, DROP_REASON, *[f"classify_{n}" for n in names]]
    parts = []
    for table_name in ("curated", "rejected"):
        path = run_dir / table_name
        if not path.exists():
            continue
        dataset = ds.dataset(str(path), format="parquet")
        have = set(dataset.schema.names)
        table = dataset.to_table(columns=[c for c in wanted if c in have])
        cols = {}
        for c in wanted:
            if c in table.column_names:
                cols[c] = table[c]
            else:
                cols[c] = pa.nulls(table.num_rows, type=pa.float64() if c.startswith("classify_") and
                                   c != CLASSIFY_REASON else pa.string())
        cols["_curated"] = pa.array(np.full(table.num_rows, table_name == "curated"))
        parts.append(pa.table(cols))
    if not parts:
        raise ClassifyWhatIfError(
            f"{run_dir} has neither curated/ nor rejected/ Parquet tables; is it a run's output?")
    return pa.concat_tables(parts, promote_options="permissive") if len(parts) > 1 else parts[0]


def top_fraction_kept(scores: np.ndarray, doc_ids: np.ndarray, fraction: float) -> np.ndarray:
    """Which rows a ``keep_top_fraction`` rule keeps (NaN score = not scored = kept); vectorized
    :func:`pipelines.text.classifier.top_fraction_cut`: rank by score descending, then doc_id ascending."""
    kept = np.ones(len(scores), dtype=bool)
    scored = np.flatnonzero(~np.isnan(scores))
    k = top_fraction_count(len(scored), fraction)
    kept[scored] = False
    if k:
        order = np.lexsort((doc_ids[scored], -scores[scored]))
        kept[scored[order[:k]]] = True
    return kept


def replay_reasons(table: pa.Table, section: ClassifySection) -> np.ndarray:
    """The classify reason of every row under ``section`` (``classify:error`` rows stay errors)."""
    n = table.num_rows
    doc_ids = np.array(table["doc_id"].to_pylist(), dtype=str)
    reasons = np.full(n, None, dtype=object)
    undecided = np.ones(n, dtype=bool)
    for spec in section.models:
        scores = table[f"classify_{spec.name}"].to_numpy(zero_copy_only=False).astype(np.float64)
        if spec.min_score is not None:
            with np.errstate(invalid="ignore"):
                fail = ~np.isnan(scores) & (scores < float(spec.min_score))
        else:
            fail = ~top_fraction_kept(scores, doc_ids, float(spec.keep_top_fraction))
        fail &= undecided
        reasons[fail] = f"classify:{spec.name}"
        undecided &= ~fail
    stored = table[CLASSIFY_REASON].to_pylist()
    for i, r in enumerate(stored):
        if r == ERROR_REASON:
            reasons[i] = ERROR_REASON
    return reasons


def _evaluated(table: pa.Table, names: Sequence[str]) -> np.ndarray:
    """Rows the classify stage scored with at least one model, or failed on."""
    mask = np.zeros(table.num_rows, dtype=bool)
    for n in names:
        mask |= ~np.isnan(table[f"classify_{n}"].to_numpy(zero_copy_only=False).astype(np.float64))
    stored = np.array([r is not None for r in table[CLASSIFY_REASON].to_pylist()], dtype=bool)
    return mask | stored


def _summary(reasons: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    sel = reasons[mask]
    n = int(mask.sum())
    passed = int(sum(1 for r in sel if r is None))
    by_model: dict[str, int] = {}
    for r in sel:
        if r is not None:
            key = r.split(":", 1)[1]
            by_model[key] = by_model.get(key, 0) + 1
    return {"evaluated": n, "passed": passed, "keep_rate": (passed / n) if n else None,
            "by_model": dict(sorted(by_model.items(), key=lambda kv: (-kv[1], kv[0])))}


def _rule(spec) -> dict[str, Optional[float]]:
    if spec.min_score is not None:
        return {"min_score": spec.min_score}
    return {"keep_top_fraction": spec.keep_top_fraction}


def run_classify_whatif(run_dir: Union[str, Path], config: dict[str, Any],
                        overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Keep rates of a finished run under other classify rules (see the module docstring).

    Returns:
        A JSON-able report shaped like the quality what-if's (``run``/``whatif`` summaries under ``classify``,
        ``changed``, ``overall``) plus each model's rule in the run and in the what-if.
    """
    run_section = classify_section_with(config, [])
    new_section = classify_section_with(config, list(overrides))
    names = [m.name for m in run_section.models]
    table = read_run_scores(run_dir, names)
    mask = _evaluated(table, names)
    recorded = np.array(table[CLASSIFY_REASON].to_pylist(), dtype=object)
    replayed = replay_reasons(table, run_section)
    new = replay_reasons(table, new_section) if overrides else replayed
    matches = bool(np.all(recorded[mask] == replayed[mask]))
    curated = table["_curated"].to_numpy(zero_copy_only=False)
    total = table.num_rows
    run_kept = int(curated.sum())
    mode = str((config.get("classify") or {}).get("mode", "drop"))
    was_pass = np.array([r is None for r in recorded]) & mask
    now_pass = np.array([r is None for r in new]) & mask
    if mode == "drop":
        leaving = int((curated & was_pass & ~now_pass).sum())
        returning = int((~curated & ~was_pass & now_pass).sum())
        estimated_kept = run_kept - leaving + returning
    else:
        estimated_kept = run_kept
    return {
        "run_dir": str(run_dir),
        "overrides": list(overrides),
        "documents": total,
        "classify_mode": mode,
        "replay_matches_run": matches,
        "models": {m.name: {"run": _rule(m), "whatif": _rule(w)}
                   for m, w in zip(run_section.models, new_section.models)},
        "run": {"classify": _summary(recorded, mask)},
        "whatif": {"classify": _summary(new, mask)},
        "changed": {"newly_rejected": int((was_pass & ~now_pass).sum()),
                    "newly_kept": int((~was_pass & now_pass).sum())},
        "overall": {
            "run_kept": run_kept,
            "run_keep_rate": run_kept / total if total else None,
            "estimated_kept": estimated_kept,
            "estimated_keep_rate": estimated_kept / total if total else None,
        },
    }
