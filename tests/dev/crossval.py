"""Cross-validation of the tagger with its learned suggester on the development set.

    python tests/dev/crossval.py [--folds 4 | --by-writer] [--C 1.0] [--min-cv-f1 0.3] [--per-code]

The development interviews (tests/dev) are split into folds by transcript. For each fold the
model is trained on the sample project's reviewed codings, the other folds' gold and the seed
passages, then every paragraph of the fold is decided as the tagger decides it — a code the
model knows where its probability reaches the code's threshold (its own rules firing or not), a
code it does not know where its rules fire — and compared with the fold's gold, per family and
per code (paragraph level, as tests/heldout is scored). The held-out set is never read here.
Writes nothing.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

DEV = Path(__file__).resolve().parent
ROOT = DEV.parent.parent
sys.path.insert(0, str(ROOT))

from coding.learn import ginza_vectors, train  # noqa: E402
from coding.project import Project  # noqa: E402
from coding.training import project_examples, seed_examples  # noqa: E402

FAMILIES = ("theme", "challenge", "practice", "phase")


def score(pred, gold, fam_of):
    fam = defaultdict(lambda: [0, 0, 0])
    per = defaultdict(lambda: [0, 0, 0])
    for P, G in zip(pred, gold):
        for c in P | G:
            f = fam_of.get(c)
            if f is None:
                continue
            k = 0 if c in P and c in G else 1 if c in P else 2
            fam[f][k] += 1
            per[c][k] += 1
    return fam, per


def prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--min-cv-f1", type=float, default=0.0, help="codes learned worse than this are left to their rules")
    ap.add_argument("--min-df", type=int, default=2)
    ap.add_argument("--per-code", action="store_true")
    ap.add_argument("--by-writer", action="store_true",
                    help="one fold per id prefix (DV, DW, …): each writer's notes scored by a model that never saw that writer")
    ap.add_argument("--rules-only", action="store_true", help="score the rules alone")
    ap.add_argument("--calibration", action="store_true",
                    help="how often a code is right, by the model's probability for it (out-of-fold)")
    args = ap.parse_args(argv)
    vectors = ginza_vectors()
    sample = Project.open(ROOT)
    dev = Project.open(DEV)
    cb = sample.codebook
    fam_of = {c: cb.family(c) for c in cb.codes if cb.eval_code(c) == c}
    s_ex, _ = project_examples(sample, coders=["team"], vectors=vectors)
    d_ex, d_regions = project_examples(dev, vectors=vectors)
    seeds, proto = seed_examples(sample, vectors=vectors)
    allowed = {k: set(v) for k, v in cb.settings.tagger.regions.items()}
    groups = sorted({e.group for e in d_ex})
    if args.by_writer:
        writers = sorted({g.split("-")[0] for g in groups})
        fold_of = {g: writers.index(g.split("-")[0]) for g in groups}
        args.folds = len(writers)
    else:
        fold_of = {g: i % args.folds for i, g in enumerate(groups)}
    preds, golds = [], []
    bands = [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.01]
    calib = [[0, 0] for _ in bands[:-1]]  # per band: paragraph-code pairs, of which right
    for f in range(args.folds):
        test = [i for i, e in enumerate(d_ex) if fold_of[e.group] == f]
        train_ex = s_ex + [e for e in d_ex if fold_of[e.group] != f] + seeds
        model = None
        if not args.rules_only:
            model = train(train_ex, prototype_texts=proto, vectors=vectors, C=args.C, min_df=args.min_df,
                          family_of=fam_of).model
        for i in test:
            e = d_ex[i]
            region = d_regions[i]
            chosen = set()
            scores = model.scores(e.window, e.rule_hits) if model is not None else {}
            for c in fam_of:
                if cb[c].kind in allowed and region not in allowed[cb[c].kind]:
                    continue  # tagger.regions: not suggested in this region
                if model is not None and c in model.codes:
                    b = next(k for k in range(len(bands) - 1) if scores[c] < bands[k + 1])
                    calib[b][0] += 1
                    calib[b][1] += c in e.codes
                if model is not None and c in model.codes and model.cv_f1(c) >= args.min_cv_f1:
                    if scores[c] >= model.thresholds[c]:
                        chosen.add(c)
                elif c in e.rule_hits:
                    chosen.add(c)
            preds.append(chosen)
            golds.append(set(e.codes))
        print(f"fold {f + 1}/{args.folds} done", file=sys.stderr, flush=True)
    fam, per = score(preds, golds, fam_of)
    print(f"{len(d_ex)} development paragraphs in {len(groups)} interviews, {args.folds} folds, C={args.C}"
          + (" (rules only)" if args.rules_only else ""))
    print(f"{'family':<10} {'TP':>5} {'FP':>5} {'FN':>5}  {'P':>5} {'R':>5} {'F1':>5}")
    for f in FAMILIES:
        tp, fp, fn = fam[f]
        p, r, f1 = prf(tp, fp, fn)
        print(f"{f:<10} {tp:>5} {fp:>5} {fn:>5}  {p:5.2f} {r:5.2f} {f1:5.2f}")
    if args.calibration and not args.rules_only:
        print("model probability  pairs  right  share right")
        for k, (n, right) in enumerate(calib):
            print(f"  {bands[k]:.1f}–{min(bands[k + 1], 1.0):.1f}        {n:>6} {right:>6}  {right / n if n else 0:.2f}")
    if args.per_code:
        for c in sorted(per, key=lambda c: (fam_of[c], c)):
            tp, fp, fn = per[c]
            p, r, f1 = prf(tp, fp, fn)
            print(f"  {c:<12} {fam_of[c]:<9} {tp:>4} {fp:>4} {fn:>4}  {p:5.2f} {r:5.2f} {f1:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
