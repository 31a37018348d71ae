"""Near dedup end to end against datatrove's own MinHash pipeline, on the same documents.

Usage::

    python -m benchmarks.near_dedup_peer                # quick: 20,000 documents (2-core machine)
    python -m benchmarks.near_dedup_peer --size full    # 100,000 documents
    python -m benchmarks.near_dedup_peer --json         # the JSON figures too

``run(size)`` returns the figures as a dict (``make bench`` calls it); the command prints a Markdown table.

Documents: the synthetic corpus generator's (:mod:`benchmarks.corpus`: ten languages, planted exact and
near-duplicate clusters), the first N records, written once as 4 uncompressed JSONL files
``{"id", "text"}`` that both sides read.

Both sides are whole processes started by this script and timed from start to exit, start-up included:

* corpusforge: ``corpusforge run --config near-dedup-only.yaml --master local[W] --set
  spark.driver_memory=1g`` (the JVM heap docs/benchmarks.md recommends for local runs of this size;
  ``--driver-memory ''`` keeps the 4g default): ingest (JSONL), the
  near-dedup stage alone (exact dedup, gates and every other stage off), ``curated/`` and ``rejected/``
  Parquet, run.json and the report: what a user's run with only near dedup enabled costs, JVM start
  included.
* datatrove: ``benchmarks/_datatrove_minhash.py`` in the peer venv (:mod:`benchmarks._peer_venv`):
  signatures, buckets, clusters and filter with ``LocalPipelineExecutor`` and W workers, kept and
  removed documents written as JSONL.

Same parameters: word 5-grams, 9 bands x 13 rows (corpusforge's default for threshold 0.8 and 128
permutations; datatrove ``num_buckets=9, hashes_per_bucket=13``), no candidate verification (datatrove
has none; ours is set to ``verification: none``), one survivor per cluster.

Figures (:mod:`benchmarks.procmem`): wall seconds, CPU seconds and peak resident memory of the process
tree (sampled every 0.1 s from /proc: Python, JVM, Python workers; also per kind of process), documents
removed by each and the overlap of the two removal sets, split by what the generator planted, and the
two sides' clusters compared (``clusters``): the removal sets differ mostly by which member of an
identical cluster survives (ours: the lowest doc id; datatrove: its union-find root), then by the
clusters that only one side's shingling and hashing finds (docs/benchmarks.md, "Near dedup against
datatrove"). The two runs follow each other, so on a shared machine they see
similar (not equal) load: the figures are noisy.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZES = {"quick": 20_000, "medium": 50_000, "full": 100_000}
NGRAM, BANDS, ROWS = 5, 9, 13
FILES = 4
#: JVM heap of our run (``spark.driver_memory``). The default of 4g suits large local runs; for a run of
#: this size 1g is what docs/benchmarks.md recommends, and what a user would set (``--driver-memory``).
DRIVER_MEMORY = "1g"


def write_input(n: int, folder: Path, seed: int = 0) -> dict:
    """The first ``n`` generator records as FILES JSONL files; returns the planted ground truth."""
    from benchmarks.corpus import generate_corpus, iter_records, load_manifest

    gen = folder / "generated"
    manifest = generate_corpus(gen, max(1_000_000, n * 2000), seed=seed, files=1, malformed=False)
    manifest = load_manifest(gen)
    inp = folder / "input"
    inp.mkdir()
    handles = [open(inp / f"part-{i:05d}.jsonl", "w", encoding="utf-8") for i in range(FILES)]
    ids = []
    for i, rec in enumerate(iter_records(gen, manifest)):
        if i >= n:
            break
        handles[i % FILES].write(json.dumps({"id": rec["id"], "text": rec["text"]}, ensure_ascii=False) + "\n")
        ids.append(rec["id"])
    for h in handles:
        h.close()
    if len(ids) < n:
        raise RuntimeError(f"the generator gave {len(ids)} documents, fewer than {n}")
    return {"ids": ids, "manifest": manifest}


def _config(folder: Path) -> Path:
    path = folder / "near-dedup-only.yaml"
    path.write_text(
        "exact_dedup: {enabled: false}\n"
        "gates: {enabled: false}\n"
        f"near_dedup: {{enabled: true, shingle: word, ngram: {NGRAM}, num_perm: 128, bands: {BANDS}, "
        f"rows: {ROWS}, verification: none}}\n",
        encoding="utf-8",
    )
    return path


def _ours_removed(out: Path) -> list[str]:
    import pyarrow.dataset as ds

    rejected = out / "rejected"
    if not rejected.exists():
        return []
    table = ds.dataset(str(rejected), format="parquet").to_table(columns=["source_id", "drop_reason"])
    return [sid for sid, reason in zip(table["source_id"].to_pylist(), table["drop_reason"].to_pylist())
            if reason and reason.startswith("near_dedup")]


def _ours_clusters(out: Path) -> dict[str, str]:
    """doc id (the input's ``id``) -> cluster id, for every document of ours in a cluster of two or more."""
    import pyarrow.dataset as ds

    found: dict[str, str] = {}
    for table in ("curated", "rejected"):
        if not (out / table).exists():
            continue
        t = ds.dataset(str(out / table), format="parquet").to_table(
            columns=["source_id", "dup_cluster_id", "dup_cluster_size"])
        for sid, cid, size in zip(t["source_id"].to_pylist(), t["dup_cluster_id"].to_pylist(),
                                  t["dup_cluster_size"].to_pylist()):
            if size and size > 1:
                found[sid] = cid
    return found


def _datatrove_outputs(work: Path) -> tuple[set[str], dict[str, int]]:
    """datatrove's removed ids and doc id -> cluster id (clustered documents), from its JSONL outputs."""
    removed: set[str] = set()
    clusters: dict[str, int] = {}
    for kind in ("removed", "kept"):
        for path in sorted((work / kind).glob("*.jsonl.gz")):
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                for line in fh:
                    if not line.strip():
                        continue
                    doc = json.loads(line)
                    if kind == "removed":
                        removed.add(doc["id"])
                    cluster = (doc.get("metadata") or {}).get("minhash_cluster_id", -1)
                    if cluster != -1:
                        clusters[doc["id"]] = cluster
    return removed, clusters


def compare_clusters(ours: dict[str, str], peer: dict[str, object], ours_removed: set[str],
                     peer_removed: set[str]) -> dict:
    """How far the two sides' clusters (documents in clusters of two or more) agree.

    ``identical_clusters``: clusters with exactly the same members on both sides; in those each side
    removes all but one member, so the removals differ only by which member survives
    (``same_survivor`` of them keep the same one). ``removed_in_differing_clusters``: removals of
    documents whose cluster is not the same on both sides (LSH candidates that only one side's
    shingling and hashing found).
    """
    def groups(labels: dict) -> dict[object, frozenset]:
        members: dict[object, set] = {}
        for doc, label in labels.items():
            members.setdefault(label, set()).add(doc)
        return {label: frozenset(m) for label, m in members.items()}

    ours_sets = set(groups(ours).values())
    peer_sets = set(groups(peer).values())
    same = ours_sets & peer_sets
    in_same = set().union(*same) if same else set()
    same_survivor = sum(1 for c in same if c - ours_removed == c - peer_removed)
    return {
        "corpusforge_clusters": len(ours_sets), "datatrove_clusters": len(peer_sets),
        "identical_clusters": len(same), "documents_in_identical_clusters": len(in_same),
        "same_survivor": same_survivor,
        "removed_in_identical_clusters": {"corpusforge": len(ours_removed & in_same),
                                          "datatrove": len(peer_removed & in_same)},
        "removed_in_differing_clusters": {"corpusforge": len(ours_removed - in_same),
                                          "datatrove": len(peer_removed - in_same)},
        "clustered_by_one_side_only": {"corpusforge": len(set(ours) - set(peer)),
                                       "datatrove": len(set(peer) - set(ours))},
    }


def _planted(manifest: dict, ids: set[str]) -> dict[str, str]:
    """doc id -> what the generator planted it as, among ``ids``: ``exact_copy`` (a later member of an
    exact-duplicate group), ``near_copy_ge_0.8`` / ``near_copy_lt_0.8`` (an edited copy of a cluster's base,
    by its measured Jaccard with the base)."""
    kinds: dict[str, str] = {}
    for group in manifest.get("exact_duplicates") or []:
        for i in group["ids"][1:]:
            if i in ids:
                kinds[i] = "exact_copy"
    for cluster in manifest.get("near_duplicates") or []:
        for m in cluster["members"]:
            if m["id"] in ids:
                kinds.setdefault(m["id"], "near_copy_ge_0.8" if m["jaccard"] >= 0.8 else "near_copy_lt_0.8")
    return kinds


def _groups(manifest: dict) -> dict[str, str]:
    """doc id -> planted group (exact-duplicate group or near-duplicate cluster), for every member."""
    out: dict[str, str] = {}
    for group in manifest.get("exact_duplicates") or []:
        for i in group["ids"]:
            out[i] = group["group"]
    for cluster in manifest.get("near_duplicates") or []:
        for i in [cluster["base"]] + [m["id"] for m in cluster["members"]]:
            out.setdefault(i, cluster["cluster"])
    return out


def run(size: str = "quick", workers: int = 2, driver_memory: str = DRIVER_MEMORY, **kw) -> dict:
    """End-to-end figures of both sides (JSON-serialisable). ``size``: one of :data:`SIZES`."""
    from benchmarks import _peer_venv
    from benchmarks.procmem import run_timed

    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    n = int(kw.get("docs") or SIZES[size])
    peer_py = _peer_venv.ensure(log=lambda m: print(m, file=sys.stderr))
    repo = Path(__file__).resolve().parents[1]
    cli = Path(sys.executable).with_name("corpusforge")
    ours_cmd_prefix = [str(cli)] if cli.exists() else [sys.executable, "-m", "jobs.cli"]
    with tempfile.TemporaryDirectory(prefix="cf-bench-neardedup-") as tmp:
        folder = Path(tmp)
        truth = write_input(n, folder)
        inp = folder / "input"
        cfg = _config(folder)
        ours_cmd = ours_cmd_prefix + [
            "run", "--config", str(cfg), "--input", str(inp), "--output", str(folder / "ours"),
            "--master", f"local[{workers}]", "--run-id", "bench-near-dedup",
        ] + (["--set", f"spark.driver_memory={driver_memory}"] if driver_memory else [])
        env = {**os.environ, "PYTHONPATH": str(repo)}
        ours = run_timed(ours_cmd, env=env, log=folder / "ours.log")
        ours.pop("stdout")
        ours_removed = set(_ours_removed(folder / "ours"))
        ours_clusters = _ours_clusters(folder / "ours")
        peer_cmd = [str(peer_py), str(repo / "benchmarks" / "_datatrove_minhash.py"), str(inp),
                    str(folder / "dt"), str(workers), str(NGRAM), str(BANDS), str(ROWS)]
        peer = run_timed(peer_cmd, env={**os.environ, "PYTHONHASHSEED": "0"}, log=folder / "dt.log")
        peer.pop("stdout")
        peer_removed, peer_clusters = _datatrove_outputs(folder / "dt")
        planted = _planted(truth["manifest"], set(truth["ids"]))
        groups = _groups(truth["manifest"])
        present = set(truth["ids"])
    both = ours_removed & peer_removed

    def split(ids: set[str]) -> dict[str, int]:
        out = {"exact_copy": 0, "near_copy_ge_0.8": 0, "near_copy_lt_0.8": 0, "not_planted": 0}
        for i in ids:
            out[planted.get(i, "not_planted")] += 1
        return out

    report = {
        "size": size,
        "command": f"python -m benchmarks.near_dedup_peer --size {size} --workers {workers}"
                   + (f" --driver-memory {driver_memory or repr('')}" if driver_memory != DRIVER_MEMORY else ""),
        "documents": n,
        "parameters": {"ngram": NGRAM, "bands": BANDS, "rows": ROWS, "workers": workers, "input_files": FILES,
                       "corpusforge_driver_memory": driver_memory or "4g (default)"},
        "datatrove_version": _peer_venv.version(),
        "corpusforge": ours,
        "datatrove": peer,
        "speedup_wall": round(peer["wall_s"] / ours["wall_s"], 2),
        "cpu_ratio": round(peer["cpu_s"] / ours["cpu_s"], 2),
        "removed": {
            "corpusforge": len(ours_removed), "datatrove": len(peer_removed), "both": len(both),
            "only_corpusforge": len(ours_removed - peer_removed), "only_datatrove": len(peer_removed - ours_removed),
            "jaccard_of_removal_sets": round(len(both) / max(1, len(ours_removed | peer_removed)), 4),
            "planted_copies_in_input": split(set(planted)),
            "by_planted_kind": {
                "corpusforge": split(ours_removed), "datatrove": split(peer_removed),
                "only_corpusforge": split(ours_removed - peer_removed),
                "only_datatrove": split(peer_removed - ours_removed),
            },
        },
        # Which member of a cluster survives is a convention (ours: the configured survivor rule; datatrove:
        # the first document of the cluster's smallest node), so documents removed also compare per group.
        "removed_per_planted_group": _per_group(ours_removed, peer_removed, groups, present),
        # The clusters themselves (survivor convention aside): see docs/benchmarks.md.
        "clusters": compare_clusters(ours_clusters, peer_clusters, ours_removed, peer_removed),
        "machine": {
            "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
            "note": "whole processes, start-up included; shared machine, noisy",
        },
    }
    r = report["removed"]
    report["table_rows"] = [{
        "measure": f"near dedup end to end, {n} docs, wall s (CPU s, peak RSS MiB); removed",
        "corpusforge": f"{ours['wall_s']} ({ours['cpu_s']}, {ours['peak_rss_mib']}); {r['corpusforge']}",
        "peer": f"datatrove MinHash pipeline: {peer['wall_s']} ({peer['cpu_s']}, {peer['peak_rss_mib']}); "
                f"{r['datatrove']} ({r['both']} in common)",
        "ratio": f"{report['speedup_wall']}x",
        "target": "2x",
    }]
    return report


def _per_group(ours: set[str], peer: set[str], groups: dict[str, str], present: set[str]) -> dict:
    """How many planted groups each side removes the same number of documents from."""
    size = Counter(groups[i] for i in present if i in groups)
    o = Counter(groups[i] for i in ours if i in groups)
    p = Counter(groups[i] for i in peer if i in groups)
    multi = [g for g, n in size.items() if n > 1]
    return {
        "groups_with_2_or_more_members_in_input": len(multi),
        "same_count_removed": sum(1 for g in multi if o[g] == p[g]),
        "ours_removes_more": sum(1 for g in multi if o[g] > p[g]),
        "datatrove_removes_more": sum(1 for g in multi if o[g] < p[g]),
        "removed_outside_planted_groups": {"corpusforge": sum(1 for i in ours if i not in groups),
                                           "datatrove": sum(1 for i in peer if i not in groups)},
    }


def table(report: dict) -> str:
    c, d, r, k = report["corpusforge"], report["datatrove"], report["removed"], report["clusters"]
    return "\n".join([
        "| side | wall s | CPU s | peak RSS MiB | removed |", "|---|---|---|---|---|",
        f"| corpusforge run (near dedup only, local[{report['parameters']['workers']}]) | {c['wall_s']} "
        f"| {c['cpu_s']} | {c['peak_rss_mib']} | {r['corpusforge']} |",
        f"| datatrove {report['datatrove_version']} MinHash pipeline ({report['parameters']['workers']} workers) "
        f"| {d['wall_s']} | {d['cpu_s']} | {d['peak_rss_mib']} | {r['datatrove']} |",
        "",
        f"{report['documents']} documents; ours **{report['speedup_wall']}x** faster (wall), "
        f"{report['cpu_ratio']}x less CPU; removed by both {r['both']}, only corpusforge "
        f"{r['only_corpusforge']}, only datatrove {r['only_datatrove']} (Jaccard {r['jaccard_of_removal_sets']})",
        f"clusters: corpusforge {k['corpusforge_clusters']}, datatrove {k['datatrove_clusters']}, identical "
        f"{k['identical_clusters']} ({k['same_survivor']} with the same survivor); removed in differing clusters: "
        f"corpusforge {k['removed_in_differing_clusters']['corpusforge']}, datatrove "
        f"{k['removed_in_differing_clusters']['datatrove']}",
        f"peak RSS MiB by process kind: corpusforge {c['peak_rss_mib_by_kind']}, datatrove {d['peak_rss_mib_by_kind']}",
    ])


def main(argv: Optional[list[str]] = None) -> int:
    from benchmarks._cli import add_output_options, emit

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="quick", choices=sorted(SIZES), help="documents: %s" % SIZES)
    p.add_argument("--docs", type=int, default=None)
    p.add_argument("--workers", type=int, default=2, help="Spark local[W] / datatrove workers")
    p.add_argument("--driver-memory", default=DRIVER_MEMORY,
                   help="our run's spark.driver_memory (JVM heap); empty: the configuration's default (4g)")
    add_output_options(p)
    args = p.parse_args(argv)
    report = run(args.size, workers=args.workers, driver_memory=args.driver_memory, docs=args.docs)
    return emit(report, table, args.json, args.output)

if __name__ == "__main__":
    sys.exit(main())
