"""Rounding of report figures (pure; shared by the metrics and the drift computation).

Sums of floats depend on the order Spark adds them in; rounding every figure to a fixed number of
significant digits keeps reports byte-identical across partitionings.
"""
from __future__ import annotations

import math
from typing import Any, Optional


def sig_round(x: Optional[float], digits: int = 6) -> Optional[float]:
    """``x`` rounded to ``digits`` significant digits (None and non-finite values become None).

    Sums of floats depend on the order Spark adds them in; rounding keeps reports byte-identical across
    partitionings.
    """
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        return None
    if x == 0:
        return 0.0
    return round(x, digits - 1 - int(math.floor(math.log10(abs(x)))))


def rate(num: int, den: int) -> Optional[float]:
    """``num / den`` rounded, or None when ``den`` is 0."""
    return sig_round(num / den) if den else None


def round_tree(obj: Any) -> Any:
    """``obj`` (nested dicts, lists and tuples) with every float :func:`sig_round`-ed and dict keys as str."""
    if isinstance(obj, float):
        return sig_round(obj)
    if isinstance(obj, dict):
        return {str(k): round_tree(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [round_tree(v) for v in obj]
    return obj


__all__ = ["rate", "round_tree", "sig_round"]
