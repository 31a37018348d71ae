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


def bucket_star_edges(
    keys: np.ndarray, max_bucket_size: int, skip_huge: bool
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Star edges of LSH buckets over integer node ids, vectorised (the driver-side plan of the stage).

    Args:
        keys: ``(n, bands)`` int64 band keys of nodes ``0..n-1``; node ids must order like the documents'
            ids (node ``i`` < node ``j`` when doc ``i`` < doc ``j``), so that a bucket's root, its smallest
            node, is its smallest doc_id.
        max_bucket_size: buckets with more members than this are huge.
        skip_huge: drop the edges of huge buckets (``on_huge_bucket: skip``).

    Returns:
        ``(src, dst, stats)``: distinct edges ``src -> dst`` (member -> its bucket's root, ``src > dst``)
        as int64 arrays sorted by ``(src, dst)``, and ``stats`` with ``candidate_buckets`` (buckets of
        two members or more), ``huge_buckets`` and ``largest_bucket``.
    """
    n, bands = keys.shape if keys.ndim == 2 else (0, 0)
    nodes = np.arange(n, dtype=np.int64)
    src_parts, dst_parts = [], []
    n_buckets = n_huge = largest = 0
    for band in range(bands):
        order = np.lexsort((nodes, keys[:, band]))
        k = keys[order, band]
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        sizes = np.diff(np.r_[starts, n])
        multi = sizes > 1
        n_buckets += int(multi.sum())
        if not multi.any():
            continue
        largest = max(largest, int(sizes.max()))
        huge = sizes > max_bucket_size
        n_huge += int(huge.sum())
        linked = multi & ~huge if skip_huge else multi
        # every row gets its bucket's root (first node of its run, the smallest as runs are sorted by node)
        root = np.repeat(order[starts], sizes)
        member_linked = np.repeat(linked, sizes)
        keep = member_linked & (order != root)
        src_parts.append(order[keep])
        dst_parts.append(root[keep])
    if src_parts:
        src, dst = np.concatenate(src_parts), np.concatenate(dst_parts)
        pairs = np.unique(src * np.int64(max(n, 1)) + dst)
        src, dst = pairs // max(n, 1), pairs % max(n, 1)
    else:
        src = dst = np.zeros(0, dtype=np.int64)
    return src, dst, {"candidate_buckets": n_buckets, "huge_buckets": n_huge, "largest_bucket": largest}


def component_labels(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, int]:
    """Connected components of nodes ``0..n-1``: every node's smallest node of its component.

    Vectorised hooking with pointer jumping: every node's parent is never larger than the node; each
    round hooks the root of every edge's larger end under the other end's root (the smallest such root
    wins), then jumps every parent to its root. A root is therefore the smallest node of its tree, and
    when no edge joins two trees it is the smallest of its component. Returns ``(labels, rounds)``; a
    node without an edge is its own label.
    """
    parent = np.arange(n, dtype=np.int64)
    rounds = 0
    while len(src):
        ru, rv = parent[src], parent[dst]
        apart = ru != rv
        if not apart.any():
            break
        rounds += 1
        ru, rv = ru[apart], rv[apart]
        np.minimum.at(parent, np.maximum(ru, rv), np.minimum(ru, rv))
        while True:  # pointer jumping until every parent is a root
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
        src, dst = src[apart], dst[apart]  # edges inside one tree stay inside it
    return parent, rounds


__all__ = [
    "UnionFind", "bucket_star_edges", "component_labels", "connected_components", "lsh_star_edges", "partition",
]
