"""Aggregation and network building at scale: ``python bench/aggregate.py [--codings 1000000]``.

Builds N confirmed codings over the sample project's sentence segments (the team's real codings
first, then random segment × code pairs from five coders, seeded), and times, in one process,
every table (``aggregate.build_tables``) and the challenge–practice network
(``network.build_network``, paragraph window). Prints seconds and peak memory.
"""
from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coding.aggregate import Corpus, build_tables  # noqa: E402
from coding.network import build_network  # noqa: E402
from coding.project import Project, confirmed_codings  # noqa: E402
from coding.store import Coding  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codings", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    p = Project.open(ROOT)
    codings = list(confirmed_codings(p))
    codes = [c.id for c in p.codebook.codes.values() if c.codable]
    segs = [(t.id, s.start, s.end, s.text) for t in p.transcripts for s in t.segments()]
    rng = random.Random(args.seed)
    while len(codings) < args.codings:
        tid, a, b, text = rng.choice(segs)
        codings.append(Coding(tid, a, b, text, rng.choice(codes), "accepted", f"coder{rng.randrange(5)}"))
    t0 = time.perf_counter()
    tables = build_tables(p.transcripts, p.codebook, codings)
    t1 = time.perf_counter()
    G = build_network(Corpus(p.transcripts, p.codebook, codings))
    t2 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n_entries = sum(len(r[reg]) for t in tables["comparison_tables"].values() for r in t["rows"] for reg in p.codebook.regions)
    print(f"{len(codings):,} codings over {len(segs):,} segments of {len(p.transcripts)} transcripts")
    print(f"tables:  {t1 - t0:6.1f} s  ({n_entries} comparison entries, {sum(len(r['quotes']) for r in tables['challenge_table']['rows'])} quotes)")
    print(f"network: {t2 - t1:6.1f} s  ({len(G)} nodes, {G.number_of_edges()} edges)")
    print(f"peak RSS of the process (codings included): {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
