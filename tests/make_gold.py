"""Write a gold coder's codings (FORMATS.md §3, coder ``gold``) from paragraph-level gold.

Each (paragraph, code) of ``gold_paragraphs.yml`` becomes one row with status ``manual`` whose
offsets are the paragraph's text (after the speaker tag). Run from the repository root after
editing a paragraph-level gold file:

    python tests/make_gold.py                      # tests/heldout → tests/heldout/gold.csv
    python tests/make_gold.py tests/dev            # tests/dev → tests/dev/codings/gold.csv

The held-out gold stays outside ``codings/`` (it is compared with, never trained on); the
development set's gold is the project's reviewed codings (``train --also tests/dev``).
tests/test_evaluate.py checks that both files are up to date.
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from coding.evaluate import paragraph_gold  # noqa: E402
from coding.project import Project  # noqa: E402
from coding.files import atomic_write_text  # noqa: E402
from coding.store import DECISION_COLUMNS, to_csv  # noqa: E402

TARGETS = {"heldout": Path("gold.csv"), "dev": Path("codings") / "gold.csv"}


def gold_path(folder: Path) -> Path:
    folder = Path(folder)
    return folder / TARGETS.get(folder.resolve().name, Path("gold.csv"))


def gold_csv_text(folder: Path = HERE / "heldout") -> str:
    folder = Path(folder)
    p = Project.open(folder)
    data = yaml.safe_load((folder / "gold_paragraphs.yml").read_text(encoding="utf-8"))
    rows = paragraph_gold(p.transcripts, data, coder="gold", source=str(folder / "gold_paragraphs.yml"))
    return to_csv(rows, DECISION_COLUMNS[:8], p.codebook.effective_ref)


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "heldout"
    text = gold_csv_text(folder)
    out = gold_path(folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, text)
    print(f"wrote {out} ({text.count(chr(10)) - 1} rows)")
