"""Worker for benchmarks/near_dedup_peer.py, run with the peer venv's Python (imports datatrove, nothing of ours).

    python benchmarks/_datatrove_minhash.py INPUT_DIR WORK_DIR WORKERS NGRAM BANDS ROWS

datatrove's own MinHash deduplication, as its example pipeline runs it with ``LocalPipelineExecutor``:
signatures (``MinhashDedupSignature``, one task per input file), buckets (``MinhashDedupBuckets``, one
task per band), clusters (``MinhashDedupCluster``, one task) and the filter (``MinhashDedupFilter``,
writing kept documents with ``JsonlWriter`` and the removed ones through its exclusion writer). The
n-gram size and the bands x rows are ours (``num_buckets`` = bands, ``hashes_per_bucket`` = rows);
64-bit xxhash (datatrove's default precision). Cluster ids are saved and loaded (``save_cluster_id`` /
``load_cluster_ids``: a few bytes per clustered document) so that the benchmark can compare clusters, not
only removals. Prints one JSON line: the folders of the kept and the removed documents (JSONL, with
``metadata.minhash_cluster_id``), which the benchmark reads after the timed process has exited.
"""
from __future__ import annotations

import glob
import json
import sys


def main() -> None:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers.jsonl import JsonlWriter
    from datatrove.utils.hashing import HashConfig

    inp, work, workers, ngram, bands, rows = sys.argv[1:7]
    workers, ngram, bands, rows = int(workers), int(ngram), int(bands), int(rows)
    files = len(glob.glob(f"{inp}/*.jsonl"))
    config = MinhashConfig(n_grams=ngram, num_buckets=bands, hashes_per_bucket=rows, seed=1,
                           hash_config=HashConfig(precision=64))
    logs = f"{work}/logs"
    common = {"logging_dir": None, "skip_completed": False}
    LocalPipelineExecutor(
        pipeline=[JsonlReader(inp, glob_pattern="*.jsonl"),
                  MinhashDedupSignature(output_folder=f"{work}/signatures", config=config)],
        tasks=files, workers=workers, **{**common, "logging_dir": f"{logs}/sig"},
    ).run()
    LocalPipelineExecutor(
        pipeline=[MinhashDedupBuckets(input_folder=f"{work}/signatures", output_folder=f"{work}/buckets",
                                      config=config)],
        tasks=bands, workers=workers, **{**common, "logging_dir": f"{logs}/buckets"},
    ).run()
    LocalPipelineExecutor(
        pipeline=[MinhashDedupCluster(input_folder=f"{work}/buckets", output_folder=f"{work}/remove_ids",
                                      config=config, save_cluster_id=True)],
        tasks=1, workers=1, **{**common, "logging_dir": f"{logs}/clusters"},
    ).run()
    LocalPipelineExecutor(
        pipeline=[JsonlReader(inp, glob_pattern="*.jsonl"),
                  MinhashDedupFilter(input_folder=f"{work}/remove_ids", load_cluster_ids=True,
                                     exclusion_writer=JsonlWriter(f"{work}/removed")),
                  JsonlWriter(f"{work}/kept")],
        tasks=files, workers=workers, **{**common, "logging_dir": f"{logs}/filter"},
    ).run()
    print(json.dumps({"kept": f"{work}/kept", "removed": f"{work}/removed"}))


if __name__ == "__main__":
    main()
