"""Build the bundled demo quality classifier, ``pipelines/assets/classify/demo_quality.ftz``, reproducibly.

The training data is made by the project's own synthetic corpus generator (:mod:`benchmarks.corpus`) with a
seed other than the demo corpus's (so the demo run does not score its own training data):

* positive (``__label__hq``): the generator's prose documents (articles, forum posts, product pages in ten
  languages; also those carrying planted personal data, exact and near duplicates);
* negative (``__label__other``): its junk documents (cookie notices, lorem ipsum, JavaScript warnings,
  navigation menus, symbol lines, repetitive lines, very short pages, curly-bracket code, boilerplate),
  as the generator's manifest lists them.

Both sides are written as JSONL and trained through ``corpusforge classifier train`` (the same code path a
user runs), balanced, quantized (``.ftz``) and seeded. The same command gives the same model file: the
generator is deterministic and training runs on one thread.

Usage (from the repository root)::

    .venv/bin/python scripts/build_demo_classifier.py [--out pipelines/assets/classify] [--work DIR]
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))

from benchmarks.corpus import generate_corpus, iter_records  # noqa: E402
from jobs.cli import main as cli_main  # noqa: E402

#: Generator settings of the training corpus (the demo corpus uses seed 7).
CORPUS_SEED = 14
CORPUS_SIZE = "4MB"
#: Training settings: small hash table and embedding, quantized, so the bundled file stays small.
TRAIN_ARGS = ["--label", "hq", "--negative-label", "other", "--balance", "--validation-fraction", "0.2",
              "--epoch", "25", "--word-ngrams", "2", "--dim", "16", "--bucket", "50000", "--min-count", "2",
              "--lr", "0.2", "--cutoff", "5000", "--seed", "14"]


def build(out_dir: Path, work: Path) -> int:
    corpus = work / "corpus"
    manifest = generate_corpus(corpus, CORPUS_SIZE, seed=CORPUS_SEED, files=1, compression="none",
                               malformed=False)
    junk = {j["id"] for j in manifest["junk"]}
    pos, neg = work / "positive.jsonl", work / "negative.jsonl"
    with open(pos, "w", encoding="utf-8") as fp, open(neg, "w", encoding="utf-8") as fn:
        for rec in iter_records(corpus, manifest):
            (fn if rec["id"] in junk else fp).write(json.dumps({"id": rec["id"], "text": rec["text"]}) + "\n")
    out_dir.mkdir(parents=True, exist_ok=True)
    model = out_dir / "demo_quality.ftz"
    argv = ["classifier", "train", "--positive", str(pos), "--negative", str(neg), "--output", str(model),
            *TRAIN_ARGS]
    print("corpusforge " + " ".join(shlex.quote(a) for a in argv), file=sys.stderr)
    rc = cli_main(argv)
    if rc == 0:
        # The card names the temporary training files; record them by name and hash only, not by location.
        card_file = model.with_suffix(".json")
        card = json.loads(card_file.read_text(encoding="utf-8"))
        for side in ("positive", "negative"):
            for f in card["inputs"][side]["files"]:
                f["path"] = Path(f["path"]).name
        card["inputs"]["generator"] = {"module": "benchmarks.corpus", "seed": CORPUS_SEED, "size": CORPUS_SIZE,
                                       "files": 1, "malformed": False,
                                       "negative": "manifest junk ids", "positive": "every other document"}
        card_file.write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    return rc


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "pipelines" / "assets" / "classify")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        return build(args.out, args.work)
    with tempfile.TemporaryDirectory(prefix="corpusforge-demo-classifier-") as tmp:
        return build(args.out, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
