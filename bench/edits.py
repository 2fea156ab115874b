"""Edit survival: do decisions land on the right passage after the edits people make to notes?

    python bench/edits.py [--edits 400] [--seed 1]

Takes the sample project's reviewed decisions (codings/team.csv), applies a few hundred random,
realistic edits to its transcripts — one edit at a time, to a copy of one transcript — and
re-anchors every decision of the edited transcript (coding.store.reanchor). Where each passage
should be after the edit is known exactly (the edit is a splice, so offsets are tracked through
it), so each decision is counted as:

* right — on the passage it belongs to (after an edit inside it: overlapping it by ≥ 90 %);
* flagged — re-attached there but marked for a re-check (right, and a person is asked to look);
* stale — not found (kept, reported, not used: a loss, not an error);
* misplaced — on other words; silently when not flagged.

Edits outside a passage: typo fixes (a character replaced, inserted or deleted), sentences
inserted, neighbouring sentences deleted, paragraphs moved. Edits inside one: a typo fix, a
redaction (a few characters → 〇〇). Targets: ≥ 99 % right for edits outside a passage, ≥ 95 %
right or flagged for small edits inside it, no silently misplaced decision.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coding.project import Project  # noqa: E402
from coding.store import Store, reanchor, with_context  # noqa: E402
from coding.transcripts import parse_transcript  # noqa: E402

FILLERS = ["なお、この点は後日確認した。", "（補足：担当者の説明による。）", "ここで一度話題が変わった。", "詳細は別紙の資料にある。"]
KANA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん"


def splice(body: str, pos: int, delete: int, insert: str) -> str:
    return body[:pos] + insert + body[pos + delete:]


def track(span: tuple[int, int], pos: int, delete: int, insert: str) -> tuple[int, int] | None:
    """Where a span is after a splice: shifted when the edit is before it, unchanged after it,
    grown or shrunk when inside it; None when the edit overlaps its ends (no single right answer)."""
    s, e = span
    d = len(insert) - delete
    if pos + delete <= s and not (delete == 0 and pos == s):
        return s + d, e + d
    if pos >= e:
        return s, e
    if pos >= s and pos + delete <= e:
        return s, e + d
    return None


def rebuild(t, body: str):
    front = t.path.read_text(encoding="utf-8").split("\n---\n", 1)[0] + "\n---\n"
    return parse_transcript(front + body, t.path)


def make_edit(rng: random.Random, t, spans: list[tuple[int, int]], kind: str):
    """A splice (pos, delete, insert) of the given kind, and the span of the decision edited
    inside (None for edits outside every passage); or None when this transcript offers none."""
    body = t.body
    inside = [False] * (len(body) + 1)
    for s, e in spans:
        for i in range(max(0, s - 1), min(len(body), e + 1)):
            inside[i] = True
    sents = [(s.start, s.end) for s in t.segments()]
    free_sents = [x for x in sents if not any(a < x[1] and x[0] < b for a, b in spans)]
    if kind == "typo_outside":
        cands = [i for i, ch in enumerate(body) if not inside[i] and ch in KANA]
        if not cands:
            return None
        i = rng.choice(cands)
        op = rng.choice(["replace", "insert", "delete"])
        ch = rng.choice(KANA)
        return (i, 1, ch, None) if op == "replace" else (i, 0, ch, None) if op == "insert" else (i, 1, "", None)
    if kind == "insert_sentence":
        cands = [s for s, _ in sents if not inside[s]] + [e for _, e in sents if not inside[e]]
        if not cands:
            return None
        return rng.choice(cands), 0, rng.choice(FILLERS), None
    if kind == "delete_neighbour":
        if not free_sents:
            return None
        s, e = rng.choice(free_sents)
        return s, e - s, "", None
    if kind == "move_paragraph":
        paras = [(p.start, p.end) for p in t.paragraphs]
        if len(paras) < 3:
            return None
        return ("move", rng.randrange(len(paras)), rng.randrange(len(paras)), None)
    if kind in ("typo_inside", "redact_inside"):
        long = [x for x in spans if x[1] - x[0] >= 12]
        if not long:
            return None
        s, e = rng.choice(long)
        i = rng.randrange(s + 2, e - 2)
        if kind == "typo_inside":
            op = rng.choice(["replace", "insert", "delete"])
            ch = rng.choice(KANA)
            edit = (i, 1, ch) if op == "replace" else (i, 0, ch) if op == "insert" else (i, 1, "")
        else:
            n = rng.randint(2, min(6, e - i - 1))
            edit = (i, n, "〇〇")
        return (*edit, (s, e))
    raise ValueError(kind)


def move(t, src: int, dst: int):
    """Move paragraph ``src`` before paragraph ``dst``: (new body, offset map function)."""
    body = t.body
    paras = list(t.paragraphs)
    blocks = []
    for k, p in enumerate(paras):
        start = body.rfind("\n\n", 0, p.start)
        start = 0 if start < 0 or k == 0 else start + 2
        end = paras[k + 1].start if k + 1 < len(paras) else len(body)
        end = body.rfind("\n\n", 0, end) + 2 if k + 1 < len(paras) else len(body)
        blocks.append((start, end))
    order = list(range(len(blocks)))
    order.remove(src)
    order.insert(dst if dst <= src else dst - 1, src)
    pieces, new_at = [], {}
    pos = 0
    for k in order:
        a, b = blocks[k]
        text = body[a:b]
        if not text.endswith("\n\n"):
            text = text.rstrip("\n") + "\n\n"
        new_at[k] = (a, b, pos)
        pieces.append(text)
        pos += len(text)
    new_body = "".join(pieces).rstrip("\n") + "\n"

    def where(span):
        for k, (a, b, p) in new_at.items():
            if a <= span[0] and span[1] <= b:
                return span[0] - a + p, span[1] - a + p
        return None

    return new_body, where


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--edits", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write the counts as JSON here")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    p = Project.open(ROOT)
    decisions = [with_context(r, p.by_id) for r in Store.open(ROOT, suggestions=False).decisions["team"]]
    by_t: dict[str, list] = {}
    for r in decisions:
        by_t.setdefault(r.transcript_id, []).append(r)
    ids = sorted(by_t)
    kinds = ["typo_outside", "insert_sentence", "delete_neighbour", "move_paragraph", "typo_inside", "redact_inside"]
    def zero():
        return {"right": 0, "flagged": 0, "stale": 0, "misplaced_flagged": 0, "misplaced_silent": 0}

    # per kind of edit: the decisions whose passage the edit left alone, and those it edited inside
    counts = {k: {"edits": 0, "outside": zero(), "inside": zero()} for k in kinds}
    t0 = time.perf_counter()
    done = 0
    while done < args.edits:
        kind = kinds[done % len(kinds)]
        t = p.by_id[rng.choice(ids)]
        rows = by_t[t.id]
        edit = make_edit(rng, t, [(r.start, r.end) for r in rows], kind)
        if edit is None:
            continue
        if edit[0] == "move":
            new_body, where = move(t, edit[1], edit[2])
            target = None
        else:
            pos, delete, insert, target = edit
            new_body = splice(t.body, pos, delete, insert)
            where = lambda span: track(span, pos, delete, insert)  # noqa: E731
        t2 = rebuild(t, new_body)
        counts[kind]["edits"] += 1
        done += 1
        for r in rows:
            expected = where((r.start, r.end))
            if expected is None:
                continue  # an edit across a passage's edge: no single right place
            edited_inside = target == (r.start, r.end)
            c = counts[kind]["inside" if edited_inside else "outside"]
            got = reanchor(replace(r), t2)
            if got.anchor == "stale":
                c["stale"] += 1
                continue
            overlap = max(0, min(got.end, expected[1]) - max(got.start, expected[0]))
            union = max(got.end, expected[1]) - min(got.start, expected[0])
            right = (got.start, got.end) == expected if not edited_inside else overlap / union >= 0.9
            if right:
                c["flagged" if got.anchor == "recheck" else "right"] += 1
            elif got.anchor == "recheck":
                c["misplaced_flagged"] += 1
            else:
                c["misplaced_silent"] += 1
    seconds = time.perf_counter() - t0

    def rate(where, good):
        n = sum(counts[k][where][x] for k in kinds for x in zero())
        return sum(counts[k][where][x] for k in kinds for x in good) / n if n else 1.0, n

    out_rate, out_n = rate("outside", ("right",))
    in_rate, in_n = rate("inside", ("right", "flagged"))
    silent = sum(counts[k][w]["misplaced_silent"] for k in kinds for w in ("outside", "inside"))
    print(f"{done} edits to the sample's transcripts, {len(decisions)} decisions (seed {args.seed}, {seconds:.1f} s)")
    print(f"{'edit':<18}{'edits':>6}  {'passage':<8}{'right':>7}{'flagged':>8}{'stale':>7}{'misplaced (flagged)':>21}{'silently':>10}")
    for k in kinds:
        for w in ("outside", "inside"):
            c = counts[k][w]
            if sum(c.values()):
                print(f"{k:<18}{counts[k]['edits']:>6}  {w:<8}{c['right']:>7}{c['flagged']:>8}{c['stale']:>7}"
                      f"{c['misplaced_flagged']:>21}{c['misplaced_silent']:>10}")
    checks = {
        f"edits outside a passage: right {out_rate:.2%} of {out_n} decisions (target ≥ 99 %)": out_rate >= 0.99,
        f"small edits inside a passage: right or flagged {in_rate:.2%} of {in_n} (target ≥ 95 %)": in_rate >= 0.95,
        f"silently misplaced: {silent} (target 0)": silent == 0,
    }
    for text, ok in checks.items():
        print(("PASS " if ok else "FAIL ") + text)
    if args.json:
        args.json.write_text(json.dumps({"counts": counts, "outside": out_rate, "inside": in_rate, "silent": silent,
                                         "edits": done, "seed": args.seed}, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
