"""Cross-validation on the development set: how settings of the tagger and the learned suggester
fare on interviews the model did not learn from, without looking at the held-out set.

For each fold, the model is trained on the sample project's reviewed codings (coder ``team``) plus
the development transcripts of the other folds (``train --also``), and the fold's transcripts are
evaluated against their gold. Counts are summed over the folds (paragraph level, per family).

    python tests/dev/crossval.py                 # the codebook as it is, 2 folds
    python tests/dev/crossval.py --folds 3 --set "tagger.learned.min_score=0.2"

The development set's patterns were tuned on these very interviews, so the rule part of the
numbers is optimistic; the comparison between settings of the model is what this is for.
Run from anywhere; writes only to a temporary folder.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

DEV = Path(__file__).resolve().parent
ROOT = DEV.parent.parent


def _set(data: dict, assignment: str) -> None:
    key, _, value = assignment.partition("=")
    *path, last = key.split(".")
    node = data
    for k in path:
        node = node.setdefault(k, {})
    node[last] = yaml.safe_load(value)


def _cli(*args: str) -> str:
    r = subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"cli.py {' '.join(args[:1])} failed:\n{r.stdout}{r.stderr}")
    return r.stdout


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folds", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="change a codebook setting for the run (YAML value), e.g. tagger.learned.min_score=0.2")
    ap.add_argument("--json", action="store_true", help="print the summed counts as JSON")
    args = ap.parse_args(argv)

    codebook = yaml.safe_load((ROOT / "codebook.yml").read_text(encoding="utf-8"))
    for a in args.set:
        _set(codebook, a)
    cb_text = yaml.safe_dump(codebook, allow_unicode=True, sort_keys=False)
    learned = (codebook.get("tagger") or {}).get("learned") or {}
    ids = sorted(p.stem for p in (DEV / "transcripts").glob("*.md"))
    gold_text = (DEV / "codings" / "gold.csv").read_text(encoding="utf-8")
    gold = list(csv.DictReader(io.StringIO(gold_text)))
    columns = list(gold[0])

    def project(folder: Path, keep: list[str], gold_to: Path) -> None:
        (folder / "transcripts").mkdir(parents=True)
        for i in keep:
            shutil.copy(DEV / "transcripts" / f"{i}.md", folder / "transcripts")
        (folder / "codebook.yml").write_text(cb_text, encoding="utf-8")
        gold_to.parent.mkdir(parents=True, exist_ok=True)
        buf = io.StringIO()
        w = csv.DictWriter(buf, columns, lineterminator="\n")
        w.writeheader()
        w.writerows(r for r in gold if r["transcript_id"] in keep)
        gold_to.write_text(buf.getvalue(), encoding="utf-8")

    total: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory(prefix="dev-crossval-") as tmp:
        for k in range(args.folds):
            held = ids[k::args.folds]
            rest = [i for i in ids if i not in held]
            train_dir, eval_dir = Path(tmp) / f"train{k}", Path(tmp) / f"eval{k}"
            project(train_dir, rest, train_dir / "codings" / "gold.csv")
            project(eval_dir, held, eval_dir / "gold.csv")
            model = eval_dir / (learned.get("path") or "models/suggester.json")
            model.parent.mkdir(parents=True, exist_ok=True)
            _cli("train", "--project", str(ROOT), "--coder", "team", "--also", str(train_dir), "-o", str(model))
            res = json.loads(_cli("evaluate", "--project", str(eval_dir), "--gold", str(eval_dir / "gold.csv"),
                                  "--format", "json", "--by", "family"))
            for fam, m in res["levels"]["paragraph"]["families"].items():
                t = total.setdefault(fam, [0, 0, 0])
                t[0] += m["tp"]
                t[1] += m["fp"]
                t[2] += m["fn"]
    if args.json:
        print(json.dumps({f: dict(zip(("tp", "fp", "fn"), v)) for f, v in total.items()}, ensure_ascii=False))
        return 0
    print(f"{len(ids)} development transcripts, {args.folds} folds" + (f"; settings: {', '.join(args.set)}" if args.set else ""))
    print(f"{'family':10} {'TP':>4} {'FP':>4} {'FN':>4}     P     R    F1")
    for fam, (tp, fp, fn) in total.items():
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        print(f"{fam:10} {tp:4} {fp:4} {fn:4}  {p:.2f}  {r:.2f}  {f1:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
