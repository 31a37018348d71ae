"""LSH parameter math: the (bands, rows) optimizer that config validation needs (pure numpy).

:func:`optimal_param` is datasketch's ``_optimal_param`` search (minimize the weighted false positive
and false negative probability areas), with the integrals computed exactly by Gauss-Legendre
quadrature: the integrands are polynomials of degree ``b*r <= num_perm``. It lives here, below every
other layer, because ``schemas.config.near_dedup`` derives the default bands and rows from it;
:mod:`pipelines.text.minhash` re-exports it.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np


def _gauss_legendre(n: int, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the ``n``-point Gauss-Legendre rule on ``[lo, hi]``."""
    x, w = np.polynomial.legendre.leggauss(n)
    return 0.5 * (hi - lo) * x + 0.5 * (hi + lo), 0.5 * (hi - lo) * w


@lru_cache(maxsize=64)
def optimal_param(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> tuple[int, int]:
    """The (bands, rows) that datasketch's ``MinHashLSH`` chooses for a threshold and num_perm.

    Same grid search and tie rule (first minimum in ``b``-then-``r`` order) as datasketch; the integrals
    are exact here (Gauss-Legendre with enough nodes for polynomials of degree ``num_perm``).
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    nodes = num_perm // 2 + 2
    xs_fp, ws_fp = _gauss_legendre(nodes, 0.0, threshold)
    xs_fn, ws_fn = _gauss_legendre(nodes, threshold, 1.0)
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    bb = np.array([p[0] for p in pairs], dtype=np.float64)[:, None]
    rr = np.array([p[1] for p in pairs], dtype=np.float64)[:, None]
    fp = ((1.0 - (1.0 - xs_fp[None, :] ** rr) ** bb) * ws_fp).sum(axis=1)
    fn = (((1.0 - xs_fn[None, :] ** rr) ** bb) * ws_fn).sum(axis=1)
    err = fp * false_positive_weight + fn * false_negative_weight
    best = int(np.argmin(err))  # argmin returns the first minimum, like datasketch's strict '<'
    return pairs[best]


def collision_probability(similarity: float, bands: int, rows: int) -> float:
    """Probability that two documents of Jaccard ``similarity`` share at least one band."""
    return 1.0 - (1.0 - similarity**rows) ** bands


__all__ = ["collision_probability", "optimal_param"]
