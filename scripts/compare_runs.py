"""Compare the data files of two run folders: byte for byte, and by content where bytes cannot match.

    python scripts/compare_runs.py OUT_A OUT_B [--tables curated rejected quarantine shards ledger]

For every file under the compared tables it prints both sha256s. Files that differ in bytes are compared
by content: Parquet files by schema (with its metadata), row-group layout and every value; JSON files by
value. Values that differ between any two runs by design (run ids and the dataset version, which is the
run id) are masked on both sides first. Spark's Parquet writer lists each column chunk's encodings in an
order that changes from one JVM to the next, so two runs of the same code give Spark-written files with
the same content and different bytes; pyarrow-written files (shards) match byte for byte.

Exit code 0 when every file matches in bytes or content, 1 otherwise.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

MASKED_KEYS = {"run_id", "dataset_version"}
TABLES = ("curated", "rejected", "quarantine", "shards", "ledger")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mask_table(table: pa.Table) -> pa.Table:
    for name in MASKED_KEYS & set(table.column_names):
        i = table.column_names.index(name)
        table = table.set_column(i, name, pa.nulls(table.num_rows, table.schema.field(name).type))
    return table


def _mask_json(value):
    if isinstance(value, dict):
        return {k: ("<masked>" if k in MASKED_KEYS else _mask_json(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_json(v) for v in value]
    return value


def _chunk_differences(ma, mb) -> list[str]:
    """Column chunks whose compressed size or set of encodings differ (the order of encodings is ignored)."""
    out = []
    for rg in range(ma.num_row_groups):
        for col in range(ma.num_columns):
            a, b = ma.row_group(rg).column(col), mb.row_group(rg).column(col)
            if a.total_compressed_size != b.total_compressed_size or set(a.encodings) != set(b.encodings):
                out.append(f"row group {rg} column {a.path_in_schema}")
    return out


def same_content(a: Path, b: Path) -> tuple[bool, str]:
    """Whether two files hold the same content, and how that was decided."""
    if a.suffix == ".parquet":
        fa, fb = pq.ParquetFile(a), pq.ParquetFile(b)
        if not fa.schema_arrow.equals(fb.schema_arrow, check_metadata=True):
            return False, "schema or schema metadata differ"
        layout_a = [fa.metadata.row_group(i).num_rows for i in range(fa.num_row_groups)]
        layout_b = [fb.metadata.row_group(i).num_rows for i in range(fb.num_row_groups)]
        if layout_a != layout_b:
            return False, f"row groups differ ({layout_a} vs {layout_b})"
        if not _mask_table(fa.read()).equals(_mask_table(fb.read())):
            return False, "values differ"
        chunks = _chunk_differences(fa.metadata, fb.metadata)
        if chunks and not (MASKED_KEYS & set(fa.schema_arrow.names)):
            return False, f"same values, but column chunks differ beyond encoding order: {chunks[:3]}"
        how = "same schema, row groups, values (run ids masked)"
        return True, how + ("" if chunks else ", and column chunk sizes and encodings (listed in another order)")
    if a.suffix == ".json":
        same = _mask_json(json.loads(a.read_text())) == _mask_json(json.loads(b.read_text()))
        return same, "same JSON (run ids masked)" if same else "JSON values differ"
    return False, "bytes differ"


def compare(out_a: Path, out_b: Path, tables: tuple[str, ...]) -> bool:
    ok = True
    for table in tables:
        files_a = {p.relative_to(out_a) for p in (out_a / table).rglob("*") if p.is_file()}
        files_b = {p.relative_to(out_b) for p in (out_b / table).rglob("*") if p.is_file()}
        for rel in sorted(files_a ^ files_b):
            ok = False
            print(f"{rel}: only in {out_a if rel in files_a else out_b}")
        for rel in sorted(files_a & files_b):
            ha, hb = sha256(out_a / rel), sha256(out_b / rel)
            if ha == hb:
                verdict = "bytes identical"
            else:
                same, how = same_content(out_a / rel, out_b / rel)
                ok &= same
                verdict = ("content identical: " if same else "DIFFERENT: ") + how
            print(f"{rel}\n    {ha}\n    {hb}\n    {verdict}")
    return ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_a", type=Path)
    parser.add_argument("out_b", type=Path)
    parser.add_argument("--tables", nargs="+", default=list(TABLES))
    args = parser.parse_args(argv)
    ok = compare(args.out_a, args.out_b, tuple(args.tables))
    print("all files match" if ok else "some files differ")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
