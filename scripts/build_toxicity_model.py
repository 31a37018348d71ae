"""Rebuild the bundled toxicity model (pipelines/assets/toxicity/model.ftz and its model.json card).

The recipe lives in :mod:`benchmarks.toxicity` (data, fixed held-apart split, identity-balanced training
set, calibration, threshold, evaluation); training goes through the project's own classifier training,
:func:`pipelines.text.classifier.train_classifier` (what ``corpusforge classifier train`` runs). It needs the
labelled sets under ``../shared/data`` (see ``pipelines/assets/toxicity/README.md``); nothing is downloaded.

The build is deterministic (seeded split, seeded sampling, single-threaded fastText): the same data and code
give the same model file and card.

Usage, from the repository root::

    .venv/bin/python scripts/build_toxicity_model.py [--data ../shared/data] [--output PATH.ftz]

It prints the held-apart figures; ``python -m benchmarks.toxicity`` prints them again, with the lexicon flag's.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the repository's packages importable
    sys.path.insert(0, str(REPO))

from benchmarks.toxicity import build_model, data_available, default_data_root, format_figures  # noqa: E402

DEFAULT_OUTPUT = REPO / "pipelines" / "assets" / "toxicity" / "model.ftz"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=None, help="shared data folder (default: ../shared/data)")
    ap.add_argument("--output", default=str(DEFAULT_OUTPUT),
                    help="model file to write (.ftz; default: the bundled model); the card goes next to it")
    args = ap.parse_args(argv)
    root = Path(args.data) if args.data else default_data_root()
    if not data_available(root):
        print(f"error: the labelled toxicity data is not under {root}; see pipelines/assets/toxicity/README.md",
              file=sys.stderr)
        return 2
    card = build_model(Path(args.output), root)
    block = card["toxicity"]
    print(f"wrote {args.output} ({card['model']['bytes']:,} bytes, sha256 {card['model']['sha256'][:12]}) and its "
          f"card; threshold {block['threshold']}, calibration a={block['calibration']['a']:.4f} "
          f"b={block['calibration']['b']:.4f}")
    print(format_figures("toxicity model", block["evaluation"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
