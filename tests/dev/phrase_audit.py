"""Which codebook phrases come from the development data alone?

A phrase of a pattern should be a general expression of its code — from its definition, its
synonyms, the way problems are stated — never a fragment of one development sentence the rules
happened to miss (that is memorising: it does not carry to new interviews). This lists every
phrase of five or more characters that occurs in the development data the rules were tuned on
(tests/data, and the development interviews DV-* and HO-*) but nowhere in the general sources:
the code definitions, labels and summaries, the report's own passages shipped with the project
(models/report_seeds.yml, tests/data/report_*.yml), the sample transcripts, the report itself
when it is beside the checkout (../shared/reference/report.txt), and the development interviews
by writers the rules are never written from (DW-*, DX-*, DY-*, DZ-*, DU-*, and HV-*, the former
held-out set: they show how people who never saw the codebook say things; no phrase is ever
copied from them).

    python tests/dev/phrase_audit.py             # list them; exit 1 if one is not justified
    python tests/dev/phrase_audit.py --all       # with the files each occurs in

A phrase that stays although only development data has it is listed, with its reason, in
tests/dev/phrase_audit_justified.yml.
"""
from __future__ import annotations

import argparse
import sys
import unicodedata
from pathlib import Path

import yaml

DEV = Path(__file__).resolve().parent
ROOT = DEV.parent.parent
sys.path.insert(0, str(ROOT))

from coding.codebook import load_codebook  # noqa: E402

MIN_LEN = 5


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _texts(paths) -> dict[str, str]:
    return {str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p): fold(p.read_text(encoding="utf-8"))
            for p in paths if p.is_file()}


INDEPENDENT = ("DW-", "DX-", "DY-", "HV-", "DZ-", "DU-")  # development interviews no phrase is taken from


def general_sources(cb) -> dict[str, str]:
    out = _texts(sorted((ROOT / "transcripts").glob("*.md")))
    out.update(_texts(p for p in sorted((DEV / "transcripts").glob("*.md")) if p.name.startswith(INDEPENDENT)))
    out.update(_texts([ROOT / "models" / "report_seeds.yml", *sorted((ROOT / "tests" / "data").glob("report_*.yml")),
                       ROOT.parent / "shared" / "reference" / "report.txt"]))
    words = []
    for c in cb.codes.values():
        words += [c.label, c.definition, str(c.get("summary") or ""), str(c.get("problem") or "")]
    out["codebook definitions"] = fold("\n".join(words))
    return out


def development_sources() -> dict[str, str]:
    paths = [p for p in sorted((ROOT / "tests" / "data").glob("*.yml")) if not p.name.startswith("report_")]
    return _texts(paths + [p for p in sorted((DEV / "transcripts").glob("*.md")) if not p.name.startswith(INDEPENDENT)])


def audit(cb) -> dict[str, list[tuple[str, list[str]]]]:
    """code id → [(phrase, development files it occurs in)] for phrases the general sources lack."""
    general = general_sources(cb)
    dev = development_sources()
    out: dict[str, list[tuple[str, list[str]]]] = {}
    seen = set()
    for p in cb.patterns:
        for phrase in p.rule.phrases():
            word = fold(phrase.lstrip("="))
            if len(word) < MIN_LEN or (p.code_id, word) in seen:
                continue
            seen.add((p.code_id, word))
            if any(word in text for text in general.values()):
                continue
            where = [name for name, text in dev.items() if word in text]
            if where:
                out.setdefault(p.code_id, []).append((phrase, where))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--all", action="store_true", help="show the files each phrase occurs in")
    args = ap.parse_args(argv)
    cb = load_codebook(ROOT / "codebook.yml")
    justified = yaml.safe_load((DEV / "phrase_audit_justified.yml").read_text(encoding="utf-8")) or {} \
        if (DEV / "phrase_audit_justified.yml").is_file() else {}
    found = audit(cb)
    total = sum(len(v) for v in found.values())
    phrases = {fold(x.lstrip("=")) for p in cb.patterns for x in p.rule.phrases() if len(fold(x.lstrip("="))) >= MIN_LEN}
    print(f"{len(phrases)} distinct phrases of {MIN_LEN}+ characters; {total} occur in development data alone")
    unjustified = 0
    for code, rows in found.items():
        for phrase, where in rows:
            reason = justified.get(phrase)
            mark = f"  (kept: {reason})" if reason else ""
            unjustified += reason is None
            print(f"{code}\t{phrase}{mark}" + (f"\t{', '.join(where[:4])}" if args.all else ""))
    print(f"{unjustified} not justified in tests/dev/phrase_audit_justified.yml")
    return 1 if unjustified else 0


if __name__ == "__main__":
    sys.exit(main())
