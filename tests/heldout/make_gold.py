"""Write tests/heldout/gold.csv (FORMATS.md §3, coder ``gold``) from gold_paragraphs.yml.

Run from the repository root after editing the paragraph-level gold:

    python tests/heldout/make_gold.py

Each (paragraph, code) becomes one row with status ``manual`` whose offsets are the paragraph's
text (after the speaker tag). tests/test_evaluate.py checks that gold.csv is up to date.
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from coding.evaluate import paragraph_gold  # noqa: E402
from coding.project import Project  # noqa: E402
from coding.store import DECISION_COLUMNS, atomic_write_text, to_csv  # noqa: E402


def gold_csv_text() -> str:
    p = Project.open(HERE)
    data = yaml.safe_load((HERE / "gold_paragraphs.yml").read_text(encoding="utf-8"))
    rows = paragraph_gold(p.transcripts, data, coder="gold", source=str(HERE / "gold_paragraphs.yml"))
    return to_csv(rows, DECISION_COLUMNS[:8], p.codebook.effective_ref)


if __name__ == "__main__":
    text = gold_csv_text()
    atomic_write_text(HERE / "gold.csv", text)
    print(f"wrote {HERE / 'gold.csv'} ({text.count(chr(10)) - 1} rows)")
