"""Single-process connected components and LSH clustering (the reference the Spark stage is tested
against, and a tool for small inputs). No pyspark here.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from typing import Hashable, Iterable, Mapping, Sequence

import numpy as np

log = logging.getLogger(__name__)


class UnionFind:
    """Disjoint sets with path halving and union by the smaller representative.

    The representative of every set is its smallest element, so the result does not depend on the
    order in which unions happen.
    """

    def __init__(self, items: Iterable[Hashable] = ()) -> None:
        self.parent: dict[Hashable, Hashable] = {}
        for x in items:
            self.add(x)

    def add(self, x: Hashable) -> None:
        """Add ``x`` as a singleton (no-op when present)."""
        self.parent.setdefault(x, x)

    def find(self, x: Hashable) -> Hashable:
        """The representative (smallest element) of the set of ``x``."""
        self.add(x)
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: Hashable, b: Hashable) -> None:
        """Merge the sets of ``a`` and ``b``; the smaller representative wins."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if rb < ra:
            ra, rb = rb, ra
        self.parent[rb] = ra

    def components(self) -> dict[Hashable, Hashable]:
        """Every element mapped to its representative."""
        return {x: self.find(x) for x in list(self.parent)}


def connected_components(edges: Iterable[tuple[Hashable, Hashable]], nodes: Iterable[Hashable] = ()) -> dict:
    """Map every node (of ``edges`` and ``nodes``) to the smallest node of its component."""
    uf = UnionFind(nodes)
    for a, b in edges:
        uf.union(a, b)
    return uf.components()


def partition(labels: Mapping[Hashable, Hashable]) -> set[frozenset]:
    """The set of clusters (as frozensets) of a node -> label mapping."""
    groups: dict[Hashable, set] = defaultdict(set)
    for node, label in labels.items():
        groups[label].add(node)
    return {frozenset(g) for g in groups.values()}


def lsh_star_edges(
    doc_ids: Sequence[str], keys: np.ndarray, has_shingles: Sequence[bool]
) -> list[tuple[str, str]]:
    """Star edges of LSH buckets: every member of a bucket (band, key) to the bucket's smallest doc_id.

    Args:
        doc_ids: document ids.
        keys: ``(n, bands)`` band keys (as from :func:`pipelines.text.minhash.band_keys`).
        has_shingles: False for documents without a shingle (they are never bucketed).

    Returns:
        ``(member, minimum)`` pairs, member != minimum, deduplicated, sorted.
    """
    buckets: dict[tuple[int, int], list[str]] = defaultdict(list)
    for i, doc in enumerate(doc_ids):
        if not has_shingles[i]:
            continue
        for band, key in enumerate(keys[i]):
            buckets[(band, int(key))].append(doc)
    edges = set()
    for members in buckets.values():
        if len(members) > 1:
            root = min(members)
            edges.update((m, root) for m in members if m != root)
    return sorted(edges)


__all__ = ["UnionFind", "connected_components", "lsh_star_edges", "partition"]
