"""``corpusforge classifier train|eval`` from files the readers accept, including a run's Parquet folders,
and its errors on bad input (one class, unreadable files, missing paths, a label the model lacks)."""
from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.cli import main
from jobs.exitcodes import EXIT_OK, EXIT_USAGE
from pipelines.text.classifier import FastTextClassifier
from storage.files import file_sha256
from tests.classifier_support import negatives, positives

SMALL = ["--dim", "8", "--bucket", "20000", "--epoch", "10", "--seed", "2"]


def _jsonl(path, texts, gz=False):
    lines = "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts))
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(lines)
    else:
        path.write_text(lines, encoding="utf-8")


def _curated(folder, texts):
    """A folder shaped like a run's curated/: Parquet part files with doc_id and text (and other columns)."""
    folder.mkdir(parents=True)
    half = len(texts) // 2
    for i, part in enumerate((texts[:half], texts[half:])):
        pq.write_table(pa.table({"doc_id": [f"{i}-{j}" for j in range(len(part))], "text": part,
                                 "lang": ["en"] * len(part)}), folder / f"part-{i:05d}.parquet")
    (folder / "_SUCCESS").write_text("")


def test_train_from_a_run_folder_and_jsonl_then_eval(tmp_path, capsys):
    _curated(tmp_path / "run" / "curated", positives(60))
    _jsonl(tmp_path / "crawl.jsonl.gz", negatives(40), gz=True)
    _jsonl(tmp_path / "crawl2.jsonl", negatives(20, seed=7))
    out = tmp_path / "models" / "model.bin"
    rc = main(["classifier", "train", "--positive", str(tmp_path / "run" / "curated"),
               "--negative", str(tmp_path / "crawl.jsonl.gz"), "--negative", str(tmp_path / "crawl2.jsonl"),
               "--output", str(out), "--label", "hq", "--validation-fraction", "0.2", *SMALL])
    assert rc == EXIT_OK
    assert "validation" in capsys.readouterr().out
    card = json.loads((tmp_path / "models" / "model.json").read_text())
    pos_files = card["inputs"]["positive"]["files"]
    assert [f["path"].rsplit("/", 1)[-1] for f in pos_files] == ["part-00000.parquet", "part-00001.parquet"]
    assert all(f["sha256"] == file_sha256(f["path"]) for f in pos_files)
    assert card["inputs"]["negative"]["documents"] == 60
    assert card["samples"]["positive"]["read"] == 60 and card["samples"]["negative"]["read"] == 60
    assert card["validation"]["documents"] == 24 and card["validation"]["f1"] is not None
    assert card["parameters"]["word_ngrams"] == 2 and card["parameters"]["dim"] == 8
    assert FastTextClassifier(out, "hq").labels  # a loadable model

    rc = main(["classifier", "eval", "--model", str(out), "--label", "hq", "--positive",
               str(tmp_path / "run" / "curated"), "--negative", str(tmp_path / "crawl2.jsonl")])
    assert rc == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["metrics"]["documents"] == 80 and report["metrics"]["roc_auc"] > 0.9


def test_balance_flag_and_quarantined_records_are_counted(tmp_path):
    _jsonl(tmp_path / "pos.jsonl", positives(50))
    (tmp_path / "neg.jsonl").write_text(
        "".join(json.dumps({"text": t}) + "\n" for t in negatives(20)) + "{not json\n" + '{"text": ""}\n')
    out = tmp_path / "m.bin"
    rc = main(["classifier", "train", "--positive", str(tmp_path / "pos.jsonl"), "--negative",
               str(tmp_path / "neg.jsonl"), "--output", str(out), "--balance", *SMALL])
    assert rc == EXIT_OK
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["samples"]["positive"]["used"] == card["samples"]["negative"]["used"] == 20
    assert card["inputs"]["negative"]["skipped_records"] == {"ingest:empty_text": 1, "ingest:malformed_json": 1}


def test_one_class_data_fails_clearly(tmp_path, capsys):
    _jsonl(tmp_path / "pos.jsonl", positives(20))
    (tmp_path / "neg.jsonl").write_text('{"text": ""}\n{"text": "   "}\n')
    rc = main(["classifier", "train", "--positive", str(tmp_path / "pos.jsonl"), "--negative",
               str(tmp_path / "neg.jsonl"), "--output", str(tmp_path / "m.bin"), *SMALL])
    assert rc == EXIT_USAGE
    err = capsys.readouterr().err
    assert "negative training data has no documents" in err and "both classes" in err
    assert not (tmp_path / "m.bin").exists()


def test_unreadable_or_missing_inputs_fail_clearly(tmp_path, capsys):
    _jsonl(tmp_path / "pos.jsonl", positives(20))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "part-00000.parquet").write_bytes(b"PAR1 this is not parquet")
    rc = main(["classifier", "train", "--positive", str(tmp_path / "pos.jsonl"), "--negative",
               str(tmp_path / "broken"), "--output", str(tmp_path / "m.bin"), *SMALL])
    assert rc == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--negative: cannot read" in err and "ingest:corrupt_parquet" in err
    rc = main(["classifier", "train", "--positive", str(tmp_path / "nothing-here"), "--negative",
               str(tmp_path / "pos.jsonl"), "--output", str(tmp_path / "m.bin"), *SMALL])
    assert rc == EXIT_USAGE
    assert "--positive: input" in capsys.readouterr().err


def test_eval_with_a_label_the_model_lacks(tmp_path, capsys):
    _jsonl(tmp_path / "pos.jsonl", positives(30))
    _jsonl(tmp_path / "neg.jsonl", negatives(30))
    out = tmp_path / "m.bin"
    assert main(["classifier", "train", "--positive", str(tmp_path / "pos.jsonl"), "--negative",
                 str(tmp_path / "neg.jsonl"), "--output", str(out), *SMALL]) == EXIT_OK
    rc = main(["classifier", "eval", "--model", str(out), "--label", "cc", "--positive", str(tmp_path / "pos.jsonl"),
               "--negative", str(tmp_path / "neg.jsonl")])
    assert rc == EXIT_USAGE
    assert "no label __label__cc" in capsys.readouterr().err
