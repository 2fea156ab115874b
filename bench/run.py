#!/usr/bin/env python
"""Benchmark of ``python cli.py code`` against the plain GiNZA loop, on this machine, in one run.

    python bench/run.py                    # ~3-5 minutes on 2 cores; writes bench/results.{md,json}
    python bench/run.py --chars 300000 --sizes 300000,600000 --baseline-chars 20000   # quick look
    python bench/run.py --full-baseline    # also run the plain loop over the whole corpus (slow)

It builds corpora of distinct transcripts from the sample ones (transcripts/*.md) in a temporary
folder — each benchmark transcript mixes the Q/A pairs of four samples in its own order with its own
numbers, so every file has new text and no cache hit is free — and measures, as whole processes:

1. the plain loop a researcher would write, ``for doc in spacy.load("ja_ginza").pipe(paragraphs)``,
   over the same paragraph texts (on a sample of the corpus: at ~1,500 chars/s per core the whole
   corpus would take ~12 minutes; its time for the whole corpus is extrapolated from its measured
   load time and chars/s, and marked so — ``--full-baseline`` measures it instead);
2. ``cli.py code --jobs J`` cold (empty cache), and with ``--jobs 1`` to show what the processes buy;
3. the same again with nothing changed (median of 3);
4. after editing one pattern in the project's codebook.yml: adding a synonym (3 edits of 3 codes,
   median), and a broad edit (a word found in ~30 % of the paragraphs, added to the code whose
   phrases are the most frequent), which re-tags that code in most of the corpus;
5. after editing one transcript (3 edits, median; the run must report 1 parsed);
6. the peak memory of the cold run (all its processes: max over time of the summed RSS, and PSS)
   at each corpus size of ``--sizes``.

When the codebook names a learned suggester that exists (``tagger.learned.model``, trained by
``cli.py train``), steps 2-4 are repeated with it (``--no-model`` skips this): the suggester reads
every paragraph, so a codebook edit re-tags the edited code in the paragraphs holding its phrases
and in those where the model (whose paragraphs the cold run records) proposes it.

Plus the tokenizer ceiling, in one process on one core: raw SudachiPy, the lexical path's tokenizer
(SudachiPy → the tokens GiNZA's tokenizer gives), the same plus the rules (tokenize + tag), and
GiNZA's own tokenizer (``nlp.make_doc``).

The code under test is copied to the temporary folder first, so edits made to the working tree
during the run do not change what is measured. Nothing is written into the repository except
bench/results.md and bench/results.json (``--no-write`` to skip).
"""
from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GIB = 1024**3

# Targets of the performance issue (ratios measured in the same run).
TARGETS = {
    "cold_vs_plain_loop": 1.0,
    "nothing_changed_vs_cold": 0.05,
    "codebook_edit_vs_cold": 0.10,
    "peak_memory_bytes": GIB,
    "memory_growth_when_corpus_doubles": 1.25,
}

# ---------------------------------------------------------------- helper processes
CLI_WRAPPER = r"""
import runpy, sys
code = sys.argv[1]
sys.argv = [code + "/cli.py"] + sys.argv[2:]
sys.path.insert(0, code)
rc = 0
try:
    runpy.run_path(code + "/cli.py", run_name="__main__")
except SystemExit as e:
    rc = e.code if isinstance(e.code, int) else (1 if e.code else 0)
print("BENCH-IMPORTED " + ",".join(m for m in ("spacy", "thinc", "ginza", "sudachipy") if m in sys.modules), file=sys.stderr)
sys.exit(rc)
"""

PLAIN_LOOP = r"""
import json, sys, time
t0 = time.perf_counter()
import spacy
nlp = spacy.load("ja_ginza")
t1 = time.perf_counter()
with open(sys.argv[1], encoding="utf-8") as f:
    paragraphs = json.load(f)
tokens = 0
for doc in nlp.pipe(paragraphs):
    tokens += len(doc)
t2 = time.perf_counter()
print(json.dumps({"load_s": t1 - t0, "parse_s": t2 - t1, "chars": sum(map(len, paragraphs)), "tokens": tokens,
                  "pipeline": nlp.pipe_names}))
"""

PROBE = r"""
import json, sys, time
code, folder, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, code)
from coding.codebook import load_codebook
from coding.transcripts import read_transcripts
from coding.nlp import NlpSettings, lexical_tokenizer, normaliser
from coding.tagger import Tagger
cb = load_codebook(folder + "/codebook.yml")
ts, chars = [], 0
for t in read_transcripts(folder + "/transcripts"):
    ts.append(t)
    chars += sum(len(p.text) for p in t.paragraphs)
    if chars >= limit:
        break
paras = [p.text for t in ts for p in t.paragraphs]
out = {"chars": chars, "paragraphs": len(paras)}

from sudachipy import dictionary, tokenizer
sudachi = dictionary.Dictionary().create(mode=tokenizer.Tokenizer.SplitMode.C)
t0 = time.perf_counter()
for p in paras:
    sudachi.tokenize(p)
out["raw_sudachipy"] = chars / (time.perf_counter() - t0)

lex = lexical_tokenizer(NlpSettings())
t0 = time.perf_counter()
for p in paras:
    lex(p)
out["lexical_tokenizer"] = chars / (time.perf_counter() - t0)

tagger = Tagger(cb, normalise=normaliser(NlpSettings()))
t0 = time.perf_counter()
n = 0
for t in ts:
    n += len(tagger.tag(t, [lex(p.text) for p in t.paragraphs]))
out["lexical_tokenize_and_tag"] = chars / (time.perf_counter() - t0)
out["suggestions"] = n

import spacy
nlp = spacy.load("ja_ginza", exclude=["tok2vec", "parser", "ner", "morphologizer", "compound_splitter",
                                      "bunsetu_recognizer", "attribute_ruler"])
t0 = time.perf_counter()
for p in paras:
    nlp.make_doc(p)
out["ginza_tokenizer"] = chars / (time.perf_counter() - t0)
print(json.dumps(out))
"""


# ---------------------------------------------------------------- measuring a process tree
def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    out.extend(int(x) for x in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return out


def _mem(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in bytes (0 when it is gone)."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                    break
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        pass
    return rss, pss


class TreeSampler(threading.Thread):
    """Samples the summed RSS and PSS of a process and all its descendants every ``interval`` s."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_rss = self.peak_pss = 0
        self.max_procs = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            pids, todo = [], [self.pid]
            while todo:
                p = todo.pop()
                pids.append(p)
                todo.extend(_children(p))
            rss = pss = 0
            for p in pids:
                r, s = _mem(p)
                rss += r
                pss += s
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.max_procs = max(self.max_procs, len(pids))
            self.done.wait(self.interval)


def run_process(cmd: list[str], *, cwd: Path | None = None, memory: bool = False) -> dict:
    """Run ``cmd`` to the end; wall time, exit status, output and (with ``memory``) peak memory."""
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler(proc.pid) if memory else None
    if sampler:
        sampler.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - t0
    if sampler:
        sampler.done.set()
        sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{out}\n{err[-3000:]}")
    res = {"seconds": seconds, "stdout": out, "stderr": err, "load": [load, os.getloadavg()[0]]}
    if sampler:
        res.update(peak_rss=sampler.peak_rss, peak_pss=sampler.peak_pss, processes=sampler.max_procs)
    m = re.search(r"BENCH-IMPORTED (.*)", err)
    if m:
        res["imported"] = [x for x in m.group(1).strip().split(",") if x]
    m = re.search(r"(\d+) transcripts \((\d+) parsed, (\d+) from cache\)", out)
    if m:
        res["transcripts"], res["parsed"], res["from_cache"] = map(int, m.groups())
    return res


# ---------------------------------------------------------------- corpus
def load_samples(folder: Path) -> list[tuple[str, str, list[str]]]:
    out = []
    for f in sorted(folder.glob("*.md")):
        text = f.read_text(encoding="utf-8").replace("\r\n", "\n")
        if not text.startswith("---\n"):
            continue
        _, front, body = text.split("---\n", 2)
        paras = [p for p in re.split(r"\n\s*\n", body.strip()) if p.strip()]
        out.append((f.stem, front, paras))
    if not out:
        raise SystemExit(f"no sample transcripts in {folder}")
    return out


def _pairs(paras: list[str]) -> tuple[list[str], list[list[str]]]:
    """(lead paragraphs before the first question, [question, answer...] groups)."""
    lead, groups = [], []
    for p in paras:
        if re.match(r"^(Q|Ｑ|問)\s*[:：]", p):
            groups.append([p])
        elif groups:
            groups[-1].append(p)
        else:
            lead.append(p)
    return lead, groups


SPEAKER = re.compile(r"^\s*[^\s:：。、「」（）()]{1,15}\s*[:：]\s*")


def build_corpus(dest: Path, chars: int, samples, codebook: Path, *, start: int = 0) -> int:
    """Write distinct transcripts into ``dest/transcripts`` until their bodies hold ``chars``
    characters of paragraph text; returns how many. Transcript k mixes the Q/A pairs of sample k and three others,
    shuffled, with every number replaced (seeded by k), under sample k's front matter."""
    (dest / "transcripts").mkdir(parents=True, exist_ok=True)
    shutil.copy(codebook, dest / "codebook.yml")
    total = 0
    k = start
    while total < chars:
        rnd = random.Random(k)
        stem, front, paras = samples[k % len(samples)]
        lead, groups = _pairs(paras)
        for _ in range(3):
            groups += _pairs(samples[rnd.randrange(len(samples))][2])[1]
        rnd.shuffle(groups)
        body = "\n\n".join(lead + [p for g in groups for p in g])
        body = re.sub(r"[0-9０-９]+", lambda m: str(rnd.randint(2, 99)), body)
        fm = re.sub(r"(?m)^id:\s*(\S+)", lambda m: f"id: {m.group(1)}-B{k:05d}", front)
        (dest / "transcripts" / f"{stem}-B{k:05d}.md").write_text(f"---\n{fm}---\n{body}\n", encoding="utf-8")
        total += sum(len(SPEAKER.sub("", p)) for p in lead + [p for g in groups for p in g])  # ≈ paragraph text
        k += 1
    return k - start


def corpus_stats(code: Path, folder: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c",
         "import json, sys; sys.path.insert(0, sys.argv[1]); from coding.transcripts import read_transcripts;"
         "ts = read_transcripts(sys.argv[2]);"
         "ps = [p.text for t in ts for p in t.paragraphs];"
         "json.dump(ps, open(sys.argv[3], 'w', encoding='utf-8'), ensure_ascii=False);"
         "print(json.dumps({'transcripts': len(ts), 'paragraphs': len(ps), 'chars': sum(map(len, ps)),"
         " 'distinct': len({t.content_hash for t in ts})}))",
         str(code), str(folder / "transcripts"), str(folder / "paragraphs.json")],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout)


# ---------------------------------------------------------------- edits
SYNONYMS = ["条件交渉", "ライセンス収入", "知財部"]  # found in a few paragraphs each, like most synonyms
BROAD = "大学"  # found in ~30 % of the sample paragraphs


def edit_codebook(path: Path, n: int, phrase: str) -> str:
    """Add ``phrase`` to the ``any`` list of the n-th pattern line that has one; returns a label."""
    lines = path.read_text(encoding="utf-8").split("\n")
    hits = [i for i, line in enumerate(lines) if re.match(r"^\s*- \{id: [^,}]+,.*\bany: \[", line)]
    i = hits[n % len(hits)]
    lines[i] = lines[i].replace("any: [", f"any: [{phrase}, ", 1)
    path.write_text("\n".join(lines), encoding="utf-8")
    return f"codebook.yml line {i + 1}: + {phrase}"


def edit_transcript(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    head, sep, body = text.partition("\n---\n")
    body = body.replace("。", "。なお、この段落には後から一文を書き足した。", 1)
    path.write_text(head + sep + body, encoding="utf-8")


# ---------------------------------------------------------------- report
def learned_model(codebook: Path) -> Path | None:
    """The learned suggester the codebook names (``tagger.learned.model``), if it can be used."""
    sys.path.insert(0, str(ROOT))
    from coding.codebook import load_codebook
    from coding.learn import resolve_model

    return resolve_model(load_codebook(codebook)).path


def rules_only(codebook: Path, dest: Path) -> Path:
    """A copy of the codebook without its learned suggester (the rules-only runs)."""
    text = codebook.read_text(encoding="utf-8")
    out = text.replace("learned: {model: sample, ", "learned: {")
    if out == text:
        raise SystemExit(f"{codebook}: cannot find 'learned: {{model: sample, ' to make a rules-only copy")
    dest.write_text(out, encoding="utf-8")
    return dest


def machine() -> dict:
    from importlib.metadata import version

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) * 1024
    except OSError:
        pass
    vers = {}
    for name in ("spacy", "ginza", "ja-ginza", "sudachipy", "sudachidict-core"):
        try:
            vers[name] = version(name)
        except Exception:
            vers[name] = "?"
    commit = None
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "cli.py", "coding", "codebook.yml"],
                               capture_output=True, text=True, check=True).stdout.strip()
        commit += " + uncommitted changes" if dirty else ""
    except Exception:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_bytes": ram, "python": platform.python_version(),
            "os": platform.platform(), "versions": vers, "commit": commit}


def fmt_s(x: float) -> str:
    return f"{x:.2f} s" if x < 100 else f"{x:.0f} s"


def fmt_b(x: float) -> str:
    return f"{x / 1024**2:.0f} MiB"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chars", type=int, default=1_000_000, help="size of the main corpus (default 1,000,000)")
    ap.add_argument("--sizes", default="1000000,2000000", help="corpus sizes for the memory check (cold runs)")
    ap.add_argument("--baseline-chars", type=int, default=60_000, help="size of the plain loop's sample")
    ap.add_argument("--full-baseline", action="store_true", help="run the plain loop over the whole main corpus")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--samples", type=Path, default=ROOT / "transcripts")
    ap.add_argument("--no-model", action="store_true", help="skip the runs with the learned suggester")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--no-write", action="store_true", help="do not write bench/results.*")
    args = ap.parse_args(argv)
    sizes = sorted({int(x) for x in args.sizes.split(",") if x.strip()})
    t_start = time.perf_counter()
    info = machine()
    info["load_before"] = os.getloadavg()
    print(f"machine: {info['nproc']} cores, {info['cpu']}, {info['ram_bytes'] / GIB:.1f} GiB RAM; "
          f"load average {info['load_before'][0]:.2f}", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="coding-bench-"))
    try:
        code = tmp / "code"
        code.mkdir()
        shutil.copy(ROOT / "cli.py", code / "cli.py")
        shutil.copytree(ROOT / "coding", code / "coding", ignore=shutil.ignore_patterns("__pycache__"))
        compileall.compile_dir(str(code), quiet=1)
        samples = load_samples(args.samples)
        shipped = ROOT / "codebook.yml"
        codebook = rules_only(shipped, tmp / "codebook-rules-only.yml")

        def cli(project: Path, *extra: str, memory: bool = False) -> dict:
            return run_process([sys.executable, "-c", CLI_WRAPPER, str(code), "code", "--project", str(project), *extra],
                               memory=memory)

        # corpora: the main one, the plain loop's sample (its first files), one per memory size
        main_dir = tmp / "main"
        n_main = build_corpus(main_dir, args.chars, samples, codebook)
        main_stats = corpus_stats(code, main_dir)
        sample_dir = tmp / "sample"
        (sample_dir / "transcripts").mkdir(parents=True)
        shutil.copy(codebook, sample_dir / "codebook.yml")
        acc = 0
        for f in sorted((main_dir / "transcripts").glob("*.md"), key=lambda p: p.stem.split("-B")[-1]):
            shutil.copy(f, sample_dir / "transcripts" / f.name)
            acc += len(f.read_text(encoding="utf-8"))
            if acc >= args.baseline_chars:
                break
        sample_stats = corpus_stats(code, sample_dir)
        print(f"corpus: {main_stats['transcripts']} transcripts ({main_stats['distinct']} distinct), "
              f"{main_stats['paragraphs']} paragraphs, {main_stats['chars']:,} chars; plain-loop sample: "
              f"{sample_stats['transcripts']} transcripts, {sample_stats['chars']:,} chars", flush=True)
        assert main_stats["distinct"] == main_stats["transcripts"] == n_main

        R: dict = {"machine": info, "corpus": main_stats, "sample": sample_stats, "runs": {}}
        runs = R["runs"]

        # tokenizer ceiling, one core
        print("tokenizers (one process) ...", flush=True)
        probe = run_process([sys.executable, "-c", PROBE, str(code), str(main_dir), str(min(args.chars, 250_000))])
        R["tokenizers"] = json.loads(probe["stdout"])

        # 1. the plain loop
        print("plain GiNZA loop on the sample ...", flush=True)
        base = run_process([sys.executable, "-c", PLAIN_LOOP, str(sample_dir / "paragraphs.json")], memory=True)
        base.update(json.loads(base["stdout"]))
        runs["plain_loop_sample"] = base
        plain_rate = base["chars"] / base["parse_s"]
        fixed = base["seconds"] - base["parse_s"]
        if args.full_baseline:
            print("plain GiNZA loop on the whole corpus (slow) ...", flush=True)
            full = run_process([sys.executable, "-c", PLAIN_LOOP, str(main_dir / "paragraphs.json")], memory=True)
            full.update(json.loads(full["stdout"]))
            runs["plain_loop_full"] = full
            plain_main, plain_main_how = full["seconds"], "measured"
        else:
            plain_main, plain_main_how = fixed + main_stats["chars"] / plain_rate, "extrapolated"
        R["plain_loop_main"] = {"seconds": plain_main, "how": plain_main_how, "chars_per_s": plain_rate}

        # 2. cold runs
        print("cli.py code cold on the sample ...", flush=True)
        runs["cold_sample"] = cli(sample_dir, "--jobs", str(args.jobs), memory=True)
        print(f"cli.py code --jobs {args.jobs} cold (twice, the faster counts) ...", flush=True)
        colds = []
        for _ in range(2):
            shutil.rmtree(main_dir / "outputs", ignore_errors=True)
            colds.append(cli(main_dir, "--jobs", str(args.jobs), memory=True))
        runs["cold"] = min(colds, key=lambda r: r["seconds"])
        runs["cold"]["all"] = [r["seconds"] for r in colds]
        cold = runs["cold"]["seconds"]

        # 3. nothing changed
        print("nothing changed ...", flush=True)
        warm = [cli(main_dir, "--jobs", str(args.jobs)) for _ in range(args.repeats)]
        runs["nothing_changed"] = {"seconds": statistics.median(r["seconds"] for r in warm),
                                   "all": [r["seconds"] for r in warm], "imported": warm[-1].get("imported"),
                                   "load": warm[0]["load"],
                                   "parsed": warm[-1].get("parsed")}

        # 4. codebook edits
        print("codebook edits ...", flush=True)
        edits = []
        for i in range(args.repeats):
            label = edit_codebook(main_dir / "codebook.yml", 3 + 7 * i, SYNONYMS[i % len(SYNONYMS)])
            r = cli(main_dir, "--jobs", str(args.jobs))
            edits.append({"edit": label, "seconds": r["seconds"], "parsed": r.get("parsed"), "imported": r.get("imported"),
                          "load": r["load"]})
        runs["codebook_edit"] = {"seconds": statistics.median(e["seconds"] for e in edits), "all": edits, "load": edits[0]["load"]}
        label = edit_codebook(main_dir / "codebook.yml", 0, BROAD)
        r = cli(main_dir, "--jobs", str(args.jobs))
        runs["codebook_edit_broad"] = {"edit": label, "seconds": r["seconds"], "parsed": r.get("parsed"),
                                       "imported": r.get("imported"), "load": r["load"]}

        # 5. transcript edits
        print("transcript edits ...", flush=True)
        files = sorted((main_dir / "transcripts").glob("*.md"))
        tedits = []
        for i in range(args.repeats):
            f = files[(i * 37 + 5) % len(files)]
            edit_transcript(f)
            r = cli(main_dir, "--jobs", str(args.jobs))
            tedits.append({"file": f.name, "seconds": r["seconds"], "parsed": r.get("parsed"), "from_cache": r.get("from_cache"),
                           "load": r["load"]})
        runs["transcript_edit"] = {"seconds": statistics.median(e["seconds"] for e in tedits), "all": tedits,
                                   "load": tedits[0]["load"]}

        # 2b. one process, for what the workers buy
        print("cli.py code --jobs 1 cold ...", flush=True)
        shutil.rmtree(main_dir / "outputs")
        runs["cold_jobs1"] = cli(main_dir, "--jobs", "1", memory=True)

        # the same with the learned suggester the codebook names, if it exists
        model_path = learned_model(shipped)
        if model_path is not None and not args.no_model:
            print("with the learned suggester: cold, nothing changed, codebook edit ...", flush=True)
            md = tmp / "with-model"
            (md / "transcripts").mkdir(parents=True)
            for f in (main_dir / "transcripts").glob("*.md"):
                shutil.copy(f, md / "transcripts" / f.name)
            shutil.copy(shipped, md / "codebook.yml")  # its model is shipped with the code, by name
            rel = model_path.relative_to(ROOT)
            mc = cli(md, "--jobs", str(args.jobs), memory=True)
            mw = cli(md, "--jobs", str(args.jobs))
            medits = []
            for i in range(args.repeats):
                label = edit_codebook(md / "codebook.yml", 3 + 7 * i, SYNONYMS[i % len(SYNONYMS)])
                r = cli(md, "--jobs", str(args.jobs))
                medits.append({"edit": label, "seconds": r["seconds"], "parsed": r.get("parsed"), "load": r["load"]})
            me = {"seconds": statistics.median(e["seconds"] for e in medits), "all": medits, "load": medits[0]["load"],
                  "parsed": max((e["parsed"] for e in medits), key=lambda x: -1 if x is None else x)}
            label = edit_codebook(md / "codebook.yml", 0, BROAD)
            r = cli(md, "--jobs", str(args.jobs))
            mb = {"edit": label, "seconds": r["seconds"], "parsed": r.get("parsed"), "load": r["load"]}
            R["with_model"] = {"model": str(rel), "cold": mc, "nothing_changed": mw, "codebook_edit": me,
                               "codebook_edit_broad": mb}
            for r in (mc, mw):
                r.pop("stdout", None)
                r.pop("stderr", None)
            shutil.rmtree(md)

        # 6. memory at each size
        mem = []
        for size in sizes:
            if abs(size - main_stats["chars"]) <= 0.02 * size:
                r, st = runs["cold"], main_stats
            else:
                print(f"cold run on {size:,} chars (memory) ...", flush=True)
                d = tmp / f"size{size}"
                build_corpus(d, size, samples, codebook, start=100_000)
                st = corpus_stats(code, d)
                r = cli(d, "--jobs", str(args.jobs), memory=True)
                shutil.rmtree(d)
            mem.append({"chars": st["chars"], "transcripts": st["transcripts"], "seconds": r["seconds"],
                        "peak_rss": r["peak_rss"], "peak_pss": r["peak_pss"], "processes": r["processes"]})
        R["memory"] = mem
        info["load_after"] = os.getloadavg()
        R["bench_seconds"] = time.perf_counter() - t_start

        # ratios
        ratios = {
            "cold_vs_plain_loop": cold / plain_main,
            "cold_vs_plain_loop_sample": runs["cold_sample"]["seconds"] / base["seconds"],
            "nothing_changed_vs_cold": runs["nothing_changed"]["seconds"] / cold,
            "codebook_edit_vs_cold": runs["codebook_edit"]["seconds"] / cold,
            "codebook_edit_broad_vs_cold": runs["codebook_edit_broad"]["seconds"] / cold,
            "transcript_edit_vs_cold": runs["transcript_edit"]["seconds"] / cold,
            "jobs1_vs_jobs": runs["cold_jobs1"]["seconds"] / cold,
            "peak_memory_bytes": max(m["peak_pss"] or m["peak_rss"] for m in mem),
            "memory_growth_when_corpus_doubles": None,
        }
        if len(mem) >= 2:
            a, b = mem[0], mem[-1]
            growth = (b["peak_pss"] / a["peak_pss"]) if a["peak_pss"] else b["peak_rss"] / a["peak_rss"]
            ratios["memory_growth_when_corpus_doubles"] = growth ** (1 / max(1e-9, __import__("math").log2(b["chars"] / a["chars"])))
        R["ratios"] = ratios
        checks = {
            "cold ≤ 1.0 × plain loop (whole corpus)": ratios["cold_vs_plain_loop"] <= TARGETS["cold_vs_plain_loop"],
            "cold ≤ 1.0 × plain loop (sample, both measured)": ratios["cold_vs_plain_loop_sample"] <= TARGETS["cold_vs_plain_loop"],
            "nothing changed ≤ 5 % of cold": ratios["nothing_changed_vs_cold"] <= TARGETS["nothing_changed_vs_cold"],
            "nothing changed imports neither spaCy nor SudachiPy": not runs["nothing_changed"]["imported"],
            "codebook edit (a synonym, median) ≤ 10 % of cold": ratios["codebook_edit_vs_cold"] <= TARGETS["codebook_edit_vs_cold"],
            "codebook edit (broad) ≤ 10 % of cold": ratios["codebook_edit_broad_vs_cold"] <= TARGETS["codebook_edit_vs_cold"],
            "codebook edits parse nothing": all(e["parsed"] == 0 for e in edits + [runs["codebook_edit_broad"]]),
            "transcript edit parses only that transcript": all(e["parsed"] == 1 for e in tedits),
            "peak memory ≤ 1 GiB": ratios["peak_memory_bytes"] <= TARGETS["peak_memory_bytes"],
            "memory flat (≤ 1.25× per doubling)": ratios["memory_growth_when_corpus_doubles"] is None
            or ratios["memory_growth_when_corpus_doubles"] <= TARGETS["memory_growth_when_corpus_doubles"],
        }
        wm = R.get("with_model")
        if wm:
            ratios["with_model_nothing_changed_vs_cold"] = wm["nothing_changed"]["seconds"] / wm["cold"]["seconds"]
            ratios["with_model_codebook_edit_vs_cold"] = wm["codebook_edit"]["seconds"] / wm["cold"]["seconds"]
            ratios["with_model_codebook_edit_broad_vs_cold"] = wm["codebook_edit_broad"]["seconds"] / wm["cold"]["seconds"]
            checks["with the learned suggester: nothing changed ≤ 5 % of cold"] = (
                ratios["with_model_nothing_changed_vs_cold"] <= TARGETS["nothing_changed_vs_cold"])
            checks["with the learned suggester: codebook edit ≤ 10 % of cold"] = (
                ratios["with_model_codebook_edit_vs_cold"] <= TARGETS["codebook_edit_vs_cold"])
            checks["with the learned suggester: codebook edit (broad) ≤ 10 % of cold"] = (
                ratios["with_model_codebook_edit_broad_vs_cold"] <= TARGETS["codebook_edit_vs_cold"])
            checks["with the learned suggester: codebook edits parse nothing"] = (
                wm["codebook_edit"].get("parsed") == 0 and wm["codebook_edit_broad"].get("parsed") == 0)
        R["checks"] = checks
        for r in runs.values():
            r.pop("stdout", None)
            r.pop("stderr", None)
        report = render(R, args)
        print()
        print(report)
        if not args.no_write:
            (ROOT / "bench" / "results.md").write_text(report, encoding="utf-8")
            (ROOT / "bench" / "results.json").write_text(json.dumps(R, indent=1, ensure_ascii=False, default=str) + "\n",
                                                         encoding="utf-8")
            print(f"wrote {ROOT / 'bench' / 'results.md'} and results.json")
        return 0 if all(checks.values()) else 1
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def render(R: dict, args) -> str:
    m, c, s, runs, r = R["machine"], R["corpus"], R["sample"], R["runs"], R["ratios"]
    tk = R["tokenizers"]
    chars = c["chars"]
    cold = runs["cold"]["seconds"]
    plain = R["plain_loop_main"]
    L = []
    L.append("# Benchmark results")
    L.append("")
    L.append(f"Machine: {m['nproc']} cores (`nproc`), {m['cpu']}, {m['ram_bytes'] / GIB:.1f} GiB RAM; Python {m['python']}, "
             + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
             + f". Load average before/after: {m['load_before'][0]:.2f} / {m['load_after'][0]:.2f}. "
             + (f"Code: {m['commit']}. " if m.get("commit") else "")
             + f"Benchmark took {R['bench_seconds'] / 60:.1f} min (`python bench/run.py"
             + (f" --chars {args.chars}" if args.chars != 1_000_000 else "")
             + (" --full-baseline" if args.full_baseline else "") + "`).")
    L.append("")
    L.append(f"Corpus: {c['transcripts']} distinct transcripts built from the samples, {c['paragraphs']:,} paragraphs, "
             f"{chars:,} characters of paragraph text. Plain-loop sample: its first {s['transcripts']} transcripts, "
             f"{s['chars']:,} characters.")
    L.append("")
    def ld(run) -> str:
        return f"{run['load'][0]:.1f}" if run.get("load") else ""

    L.append("| run (whole process) | time | chars/s | vs cold | load avg |")
    L.append("|---|---:|---:|---:|---:|")
    L.append(f"| plain loop `spacy.load(\"ja_ginza\").pipe(paragraphs)`, whole corpus ({plain['how']}) | {fmt_s(plain['seconds'])} | "
             f"{chars / plain['seconds']:,.0f} | {plain['seconds'] / cold:.1f}× | |")
    pl = runs["plain_loop_sample"]
    L.append(f"| plain loop, sample ({pl['chars']:,} chars; load {pl['load_s']:.1f} s, parse {pl['parse_s']:.1f} s) | "
             f"{fmt_s(pl['seconds'])} | {pl['chars'] / pl['parse_s']:,.0f} (parse only) | | {ld(pl)} |")
    L.append(f"| `cli.py code --jobs {args.jobs}`, sample, cold | {fmt_s(runs['cold_sample']['seconds'])} | "
             f"{s['chars'] / runs['cold_sample']['seconds']:,.0f} | | {ld(runs['cold_sample'])} |")
    L.append(f"| `cli.py code --jobs {args.jobs}`, cold (empty cache; faster of "
             f"{', '.join(fmt_s(x) for x in runs['cold'].get('all', [cold]))}) | {fmt_s(cold)} | {chars / cold:,.0f} | 1 | {ld(runs['cold'])} |")
    L.append(f"| `cli.py code --jobs 1`, cold | {fmt_s(runs['cold_jobs1']['seconds'])} | "
             f"{chars / runs['cold_jobs1']['seconds']:,.0f} | {r['jobs1_vs_jobs']:.2f} | {ld(runs['cold_jobs1'])} |")
    nc = runs["nothing_changed"]
    L.append(f"| nothing changed (median of {len(nc['all'])}) | {fmt_s(nc['seconds'])} | | {r['nothing_changed_vs_cold']:.1%} | {ld(nc)} |")
    ce = runs["codebook_edit"]
    L.append(f"| one pattern edited in codebook.yml: a synonym added (median of {len(ce['all'])}: "
             + "; ".join(e["edit"].split(": ", 1)[1] for e in ce["all"]) + f") | {fmt_s(ce['seconds'])} | | "
             f"{r['codebook_edit_vs_cold']:.1%} | {ld(ce)} |")
    cb = runs["codebook_edit_broad"]
    L.append(f"| one pattern edited: a broad word added ({cb['edit'].split(': ', 1)[1]}, in ~30 % of paragraphs) | "
             f"{fmt_s(cb['seconds'])} | | {r['codebook_edit_broad_vs_cold']:.1%} | {ld(cb)} |")
    te = runs["transcript_edit"]
    L.append(f"| one transcript edited (median of {len(te['all'])}; parsed: "
             f"{', '.join(str(e['parsed']) for e in te['all'])}) | {fmt_s(te['seconds'])} | | {r['transcript_edit_vs_cold']:.1%} | {ld(te)} |")
    L.append("")
    L.append(f"Ratios: cold / plain loop = **{r['cold_vs_plain_loop']:.3f}** on the whole corpus ({plain['how']}), "
             f"**{r['cold_vs_plain_loop_sample']:.3f}** on the sample (both measured); nothing changed / cold = "
             f"**{r['nothing_changed_vs_cold']:.1%}** (imported: {', '.join(nc['imported'] or []) or 'neither spaCy nor SudachiPy'}); "
             f"codebook edit / cold = **{r['codebook_edit_vs_cold']:.1%}** (a synonym; "
             f"{r['codebook_edit_broad_vs_cold']:.1%} for the broad edit; imported: "
             f"{', '.join(ce['all'][0]['imported'] or []) or 'neither spaCy nor SudachiPy'}); one transcript edited / cold = "
             f"**{r['transcript_edit_vs_cold']:.1%}**; `--jobs 1` / `--jobs {args.jobs}` = **{r['jobs1_vs_jobs']:.2f}**.")
    L.append("")
    L.append("Tokenizers, one process on one core, on the first "
             f"{tk['chars']:,} characters: raw SudachiPy {tk['raw_sudachipy']:,.0f} chars/s; lexical path tokenizer "
             f"(SudachiPy → GiNZA's tokens) {tk['lexical_tokenizer']:,.0f} chars/s; lexical path tokenizer + rules "
             f"{tk['lexical_tokenize_and_tag']:,.0f} chars/s; GiNZA's tokenizer (`nlp.make_doc`) "
             f"{tk['ginza_tokenizer']:,.0f} chars/s; full GiNZA pipeline (the plain loop) {pl['chars'] / pl['parse_s']:,.0f} chars/s.")
    L.append("")
    L.append("| cold run, corpus | time | peak RSS (sum over processes) | peak PSS (sum) | processes |")
    L.append("|---|---:|---:|---:|---:|")
    for x in R["memory"]:
        L.append(f"| {x['chars']:,} chars, {x['transcripts']} transcripts | {fmt_s(x['seconds'])} | {fmt_b(x['peak_rss'])} | "
                 f"{fmt_b(x['peak_pss'])} | {x['processes']} |")
    L.append(f"| plain loop, sample | {fmt_s(pl['seconds'])} | {fmt_b(pl['peak_rss'])} | {fmt_b(pl['peak_pss'])} | {pl['processes']} |")
    wm = R.get("with_model")
    if wm:
        mc, mw, me, mb = wm["cold"], wm["nothing_changed"], wm["codebook_edit"], wm["codebook_edit_broad"]
        L.append("")
        L.append(f"With the learned suggester the codebook names ({wm['model']}; it reads every paragraph; a codebook "
                 "edit re-tags the edited code where its phrases occur and where the model proposes it):")
        L.append("")
        L.append("| run (whole process) | time | vs cold | load avg |")
        L.append("|---|---:|---:|---:|")
        L.append(f"| `cli.py code --jobs {args.jobs}`, cold | {fmt_s(mc['seconds'])} | 1 | {ld(mc)} |")
        L.append(f"| nothing changed | {fmt_s(mw['seconds'])} | {mw['seconds'] / mc['seconds']:.1%} | {ld(mw)} |")
        syn = "; ".join(e["edit"].split(": ", 1)[-1] for e in me["all"])
        L.append(f"| one pattern edited: a synonym added (median of {len(me['all'])}: {syn}; parsed: "
                 f"{', '.join(str(e['parsed']) for e in me['all'])}) | {fmt_s(me['seconds'])} | "
                 f"{me['seconds'] / mc['seconds']:.1%} | {ld(me)} |")
        L.append(f"| one pattern edited: a broad word added ({mb['edit'].split(': ', 1)[-1]}; parsed: {mb.get('parsed')}) | "
                 f"{fmt_s(mb['seconds'])} | {mb['seconds'] / mc['seconds']:.1%} | {ld(mb)} |")
    g = r["memory_growth_when_corpus_doubles"]
    L.append("")
    if g is not None:
        L.append(f"Memory growth per doubling of the corpus: {g:.2f}× (peak PSS).")
        L.append("")
    L.append("Targets:")
    L.append("")
    for name, ok in R["checks"].items():
        L.append(f"- {'PASS' if ok else 'FAIL'}: {name}")
    L.append("")
    return "\n".join(L)


if __name__ == "__main__":
    sys.exit(main())
