"""What-if analysis: replay quality thresholds over a finished run's stored signals, without re-running.

The quality stage stores every signal as a column of ``curated/`` and ``rejected/``. Rules only compare
those signals with thresholds, so keep rates under other thresholds follow from the stored columns:
:func:`run_whatif` reads them with pyarrow (no Spark), applies the run's own quality section (from
``run.json``, key ``config``) with ``quality.*`` overrides, and compares the outcome with what the run did.

Replaying the run's own thresholds reproduces the run's quality reasons exactly (same comparisons on the
same stored float64/int64 values); the report says whether it did (``replay_matches_run``), which catches
runs whose signals came from another code version, and lists signal columns the run lacks
(``missing_signals``: their rules are skipped).

What cannot be replayed: ``quality.signals.*`` (they change how signals are computed) and documents that
an earlier stage dropped before quality ran (they have no signals; they stay dropped). Documents that
the new thresholds keep but the run rejected never reached later stages (near dedup, PII), so the overall
keep rate under new thresholds is an estimate; the quality keep rate is exact.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from pipelines.text.quality import SIGNAL_NAMES
from pipelines.whatif_classify import ClassifyWhatIfError, is_classify_override, run_classify_whatif
from schemas.columns import DROP_REASON, reason_column
from schemas.config import ConfigError, apply_overrides, override_error_message
from schemas.config.quality import QUALITY_RULES, RULE_NAMES, QualitySection

log = logging.getLogger(__name__)

ERROR_REASON = "quality:error"
#: The quality stage's reason column (``quality_reason``).
QUALITY_REASON = reason_column("quality")


class WhatIfError(ValueError):
    """The what-if cannot be computed for this run or these settings; the message says how to fix it."""


def load_run_config(run_dir: Union[str, Path]) -> dict[str, Any]:
    """The resolved configuration stored in ``run_dir/run.json`` under ``config``."""
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise WhatIfError(f"{path} not found; --run must be the output directory of a finished run")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise WhatIfError(f"{path} is not readable JSON ({type(exc).__name__}); is the run complete?") from None
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        raise WhatIfError(f"{path} has no resolved configuration under 'config'")
    return config


def quality_section_with(config: dict[str, Any], overrides: Sequence[str]) -> QualitySection:
    """The run's quality section with ``quality.<rule>=<value>`` overrides applied and validated.

    Raises:
        WhatIfError: an override is not under ``quality.``, changes how signals are computed, or is invalid.
    """
    for item in overrides:
        key = item.split("=", 1)[0].strip()
        parts = key.split(".")
        if len(parts) < 2 or parts[0] != "quality":
            raise WhatIfError(
                f"--set {key}: the what-if replays quality thresholds only; write quality.<rule>=<value> "
                f"(rules: {', '.join(RULE_NAMES)})"
            )
        if parts[1] == "signals":
            raise WhatIfError(
                f"--set {key}: quality.signals.* changes how signals are computed; the stored signals cannot "
                "show its effect, re-run the pipeline with the new setting instead"
            )
        if parts[1] in ("enabled", "mode"):
            raise WhatIfError(f"--set {key}: the what-if compares rule thresholds; {parts[1]} is not one")
    section_data = dict(config.get("quality") or {})
    try:
        data = apply_overrides({"quality": section_data}, overrides)
        return QualitySection.model_validate(data["quality"])
    except ConfigError as exc:
        raise WhatIfError(str(exc)) from None
    except Exception as exc:  # pydantic.ValidationError: name the keys, never echo values
        message = override_error_message(exc, "quality")
        if message:
            raise WhatIfError(message) from None
        raise


def _read_table(path: Path, wanted: Iterable[str]) -> Optional[pa.Table]:
    if not path.exists():
        return None
    dataset = ds.dataset(str(path), format="parquet")
    names = set(dataset.schema.names)
    return dataset.to_table(columns=[c for c in wanted if c in names])


def read_run_signals(run_dir: Union[str, Path]) -> pa.Table:
    """Signals, ``lang``, ``quality_reason`` and ``drop_reason`` of every document of a run.

    Adds a boolean column ``_curated`` (True for rows of ``curated/``).
    """
    run_dir = Path(run_dir)
    wanted = ["lang", QUALITY_REASON, DROP_REASON, *SIGNAL_NAMES]
    parts = []
    for name in ("curated", "rejected"):
        table = _read_table(run_dir / name, wanted)
        if table is None:
            continue
        for col in wanted:
            if col not in table.column_names:
                typ = pa.string() if col in ("lang", QUALITY_REASON, DROP_REASON) else pa.float64()
                table = table.append_column(col, pa.nulls(table.num_rows, type=typ))
        table = table.select(wanted)
        # Integer and float signals alike become float64 (exact for integers below 2**53).
        table = pa.table(
            {c: (pc.cast(table[c], pa.float64()) if c in SIGNAL_NAMES else table[c]) for c in wanted}
        )
        table = table.append_column("_curated", pa.array(np.full(table.num_rows, name == "curated")))
        parts.append(table)
    if not parts:
        raise WhatIfError(f"{run_dir} has neither curated/ nor rejected/ Parquet tables; is it a run's output?")
    table = pa.concat_tables(parts, promote_options="permissive") if len(parts) > 1 else parts[0]
    if table.num_rows and pc.all(pc.is_null(table["q_words"])).as_py() and (
        pc.all(pc.is_null(table[QUALITY_REASON])).as_py()
    ):
        raise WhatIfError(
            f"{run_dir} has no stored quality signals; the what-if needs a run with quality.enabled: true"
        )
    return table


def missing_signal_columns(run_dir: Union[str, Path]) -> list[str]:
    """Signal columns that none of the run's ``curated/`` and ``rejected/`` tables has.

    A run written by an older version may lack a signal that was added or renamed since (for example
    ``q_distinct_stop_words``, which replaced the occurrence count ``q_stop_words``); rules reading it are
    skipped in the replay, as for a null signal.
    """
    present: set[str] = set()
    for name in ("curated", "rejected"):
        path = Path(run_dir) / name
        if path.exists():
            present.update(ds.dataset(str(path), format="parquet").schema.names)
    return [s for s in SIGNAL_NAMES if s not in present]


def replay_reasons(table: pa.Table, section: QualitySection) -> np.ndarray:
    """The quality reason (``"quality:<rule>"``, or None when passing) of every row under ``section``.

    Rows without signals (quality did not run on them) get None here; callers exclude them with
    :func:`evaluated_mask`. Rows the run marked ``quality:error`` stay ``quality:error``.
    """
    n = table.num_rows
    signals = {name: table[name].to_numpy(zero_copy_only=False).astype(np.float64, copy=False) for name in SIGNAL_NAMES}
    langs = table["lang"].to_pylist() if "lang" in table.column_names else [None] * n
    effective = np.array([section.effective_language(lang) or "" for lang in langs], dtype=object)
    reasons = np.full(n, None, dtype=object)
    for lang in sorted(set(effective.tolist())):
        rows = np.flatnonzero(effective == lang)
        rules = section.rules_for(lang or None)
        undecided = np.ones(len(rows), dtype=bool)
        for spec in QUALITY_RULES:
            thr = rules[spec.name]
            if thr is False:
                continue
            values = signals[spec.signal][rows]
            with np.errstate(invalid="ignore"):
                fail = (values < float(thr)) if spec.op == "min" else (values > float(thr))
            fail &= undecided  # NaN (null signal) compares False: the rule is skipped, as in the stage
            if fail.any():
                reasons[rows[fail]] = f"quality:{spec.name}"
                undecided &= ~fail
    stored = table[QUALITY_REASON].to_pylist()
    for i, r in enumerate(stored):
        if r == ERROR_REASON:
            reasons[i] = ERROR_REASON
    return reasons


def evaluated_mask(table: pa.Table) -> np.ndarray:
    """Rows the quality stage evaluated: they have signals, or the stage failed on them."""
    has_signals = pc.is_valid(table["q_words"]).to_numpy(zero_copy_only=False)
    errored = pc.fill_null(pc.equal(table[QUALITY_REASON], ERROR_REASON), False).to_numpy(zero_copy_only=False)
    return has_signals | errored


def _run_reasons(table: pa.Table) -> np.ndarray:
    """The quality reasons the run recorded (``quality_reason``, else ``drop_reason`` when it is quality's)."""
    stored = table[QUALITY_REASON].to_pylist()
    drops = table[DROP_REASON].to_pylist()
    out = np.full(table.num_rows, None, dtype=object)
    for i, (q, d) in enumerate(zip(stored, drops)):
        if q is not None:
            out[i] = q
        elif d is not None and d.startswith("quality:"):
            out[i] = d
    return out


def _summary(reasons: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    sel = reasons[mask]
    n = int(mask.sum())
    passed = int(sum(1 for r in sel if r is None))
    by_rule = Counter(r.split(":", 1)[1] for r in sel if r is not None)
    return {
        "evaluated": n,
        "passed": passed,
        "keep_rate": (passed / n) if n else None,
        "by_rule": {k: by_rule[k] for k in sorted(by_rule, key=lambda k: (-by_rule[k], k))},
    }


def run_whatif(run_dir: Union[str, Path], overrides: Sequence[str] = (), by_lang: bool = False,
               stage: Optional[str] = None) -> dict[str, Any]:
    """Keep rates of a finished run under new quality thresholds (or classify rules, see below).

    ``classify.models.<name>.min_score=...`` / ``...keep_top_fraction=...`` overrides (or ``stage="classify"``)
    replay the classify stage's stored scores instead (:mod:`pipelines.whatif_classify`).

    Args:
        run_dir: the run's output directory (``run.json``, ``curated/``, ``rejected/``).
        overrides: ``quality.<rule>=<value>`` items (also ``quality.languages.<lang>.<rule>=<value>``).
        by_lang: add a per-language breakdown.

    Returns:
        A JSON-able report: the run's and the new quality keep rates, counts by first failing rule, how
        many documents change, and the overall keep rate (the new one estimated, see the module docstring).
    """
    config = load_run_config(run_dir)
    classify_items = [o for o in overrides if is_classify_override(o)]
    if stage == "classify" or classify_items:
        if len(classify_items) != len(overrides) or stage not in (None, "classify"):
            raise WhatIfError("--set: replay quality thresholds and classify rules in separate what-ifs")
        try:
            return run_classify_whatif(run_dir, config, classify_items)
        except ClassifyWhatIfError as exc:
            raise WhatIfError(str(exc)) from None
    run_section = quality_section_with(config, [])
    new_section = quality_section_with(config, list(overrides))
    table = read_run_signals(run_dir)
    mask = evaluated_mask(table)
    recorded = _run_reasons(table)
    replayed = replay_reasons(table, run_section)
    new = replay_reasons(table, new_section) if overrides else replayed
    matches = bool(np.all(recorded[mask] == replayed[mask]))
    missing = missing_signal_columns(run_dir)
    skipped = sorted({spec.name for spec in QUALITY_RULES if spec.signal in missing})
    if skipped:
        log.warning(
            "the run has no column %s (written by another code version); the rules reading it (%s) are skipped "
            "in this replay", ", ".join(missing), ", ".join(skipped)
        )
    if not matches:
        log.warning(
            "replaying the run's own quality settings does not reproduce its reasons on %d documents; the "
            "signals may come from another code version", int((recorded[mask] != replayed[mask]).sum())
        )

    total = table.num_rows
    curated = table["_curated"].to_numpy(zero_copy_only=False)
    run_kept = int(curated.sum())
    mode = str(config.get("quality", {}).get("mode", "drop"))
    was_pass = np.array([r is None for r in recorded]) & mask
    now_pass = np.array([r is None for r in new]) & mask
    newly_rejected = int((was_pass & ~now_pass).sum())
    newly_kept = int((~was_pass & now_pass & mask).sum())
    if mode == "drop":
        # Rows curated by the run that now fail quality leave; rows rejected only by quality come back
        # (upper bound: later stages never saw them).
        leaving = int((curated & was_pass & ~now_pass).sum())
        returning = int((~curated & ~was_pass & now_pass & mask).sum())
        estimated_kept = run_kept - leaving + returning
    else:
        estimated_kept = run_kept
    report: dict[str, Any] = {
        "run_dir": str(run_dir),
        "overrides": list(overrides),
        "documents": total,
        "quality_mode": mode,
        "replay_matches_run": matches,
        "missing_signals": missing,
        "run": {"quality": _summary(recorded, mask)},
        "whatif": {"quality": _summary(new, mask)},
        "changed": {"newly_rejected": newly_rejected, "newly_kept": newly_kept},
        "overall": {
            "run_kept": run_kept,
            "run_keep_rate": run_kept / total if total else None,
            "estimated_kept": estimated_kept,
            "estimated_keep_rate": estimated_kept / total if total else None,
        },
    }
    if by_lang:
        langs = np.array([x or "" for x in table["lang"].to_pylist()], dtype=object)
        out: dict[str, Any] = {}
        for lang in sorted(set(langs[mask].tolist())):
            m = mask & (langs == lang)
            out[lang or "unknown"] = {
                "evaluated": int(m.sum()),
                "run_keep_rate": float((was_pass & m).sum() / m.sum()),
                "whatif_keep_rate": float((now_pass & m).sum() / m.sum()),
            }
        report["by_lang"] = out
    return report
