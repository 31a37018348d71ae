"""``corpusforge hash-text``: the content_sha256 of a text, normalized exactly as ingest normalizes it."""
from __future__ import annotations

import argparse
import sys

from jobs.exitcodes import EXIT_OK, EXIT_USAGE
from pipelines.text.ids import content_sha256
from pipelines.text.normalize import normalize_text

HELP = "print the content_sha256 of a text (for erasure requests by content)"
DESCRIPTION = """\
Print the sha256 of TEXT after the ingest normalization (line endings, control characters, Unicode NFC,
outer whitespace): the value to put in a takedown request's content_sha256. The text is read from
--text, from --file, or from standard input; it is never printed or logged.

examples:
  corpusforge hash-text --file document.txt
  printf '%s' "the document's text" | corpusforge hash-text
"""


def hash_text(text: str) -> str:
    """content_sha256 of ``text`` as ingest computes it."""
    return content_sha256(normalize_text(text))


def execute(args: argparse.Namespace) -> int:
    if args.text is not None and args.file is not None:
        print("corpusforge hash-text: give --text or --file, not both", file=sys.stderr)
        return EXIT_USAGE
    if args.text is not None:
        text = args.text
    elif args.file is not None:
        try:
            with open(args.file, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            print(f"corpusforge hash-text: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
            return EXIT_USAGE
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            print("corpusforge hash-text: the file is not UTF-8; convert it first (ingest decodes UTF-8)",
                  file=sys.stderr)
            return EXIT_USAGE
    else:
        text = sys.stdin.buffer.read().decode("utf-8-sig", errors="strict")
    print(hash_text(text))
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("hash-text", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--text", default=None, help="the text itself (beware: it ends up in your shell history)")
    p.add_argument("--file", default=None, help="a UTF-8 file holding the text")
    p.set_defaults(func=execute)
