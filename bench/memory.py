"""Peak memory of `tables` (and `code`) on a transcript that is one huge line.

    python bench/memory.py --mb 1 --mb 10

For each size, a project with the sample codebook and one transcript whose body is a single line
of that many megabytes (interview sentences repeated, with a real name planted near the end) is
made in a temporary folder; `cli.py code` and then `cli.py tables` run in child processes, and
their peak resident memory (ru_maxrss of the child) and time are printed. `tables` searches the
notes for real names (GiNZA's NER, chunk by chunk) and passes every published text through the
guard; the target is a flat profile: a few hundred MB whatever the size of the line.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = ["展示会起点でのコネクションからライセンス契約に至ったケースはほとんどない。",
             "共同研究になってしまうと成果が共同発明になり、共有特許になってしまう。",
             "専門人材が慢性的に不足している。", "ロイヤリティの料率は相場観で決めている。"]


def body(n_bytes: int) -> str:
    unit = "".join(SENTENCES)
    reps = max(1, n_bytes // len(unit.encode("utf-8")))
    return unit * (reps - 1) + "山田太郎教授とも話した。" + unit


def run(cmd: list[str], cwd: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, exit status) of ``cmd``, measured in a process of its own (the
    largest child of a fresh watcher, so earlier runs do not count)."""
    out = subprocess.run([sys.executable, __file__, "--child", *cmd], cwd=cwd, capture_output=True, text=True)
    seconds, peak, status = out.stdout.strip().splitlines()[-1].split()
    if int(status) != 0:
        print(out.stderr[-3000:], file=sys.stderr)
    return float(seconds), float(peak), int(status)


def child(cmd: list[str]) -> None:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-2000:])
    print(f"{seconds:.2f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} {proc.returncode}")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(argv[1:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, action="append", help="size of the line in MB (repeatable; default 1)")
    args = ap.parse_args(argv)
    sizes = sorted(args.mb or [1.0])
    print(f"{'line':>8} {'command':<8} {'seconds':>9} {'peak RSS MiB':>13}")
    for mb in sizes:
        with tempfile.TemporaryDirectory(prefix="coding-mem-") as tmp:
            project = Path(tmp)
            (project / "transcripts").mkdir()
            shutil.copy(ROOT / "codebook.yml", project / "codebook.yml")
            front = "---\nid: JP-BIG\norg: Z大学\nregion: 日本\ncountry: 日本\nkind: 国立大\nattribute: 国立大\n---\n"
            (project / "transcripts" / "big.md").write_text(front + "A: " + body(int(mb * 1_000_000)) + "\n", encoding="utf-8")
            for command in ("code", "tables"):
                seconds, peak, status = run([sys.executable, str(ROOT / "cli.py"), command, "--project", str(project)], ROOT)
                print(f"{mb:>6.1f}MB {command:<8} {seconds:>9.1f} {peak:>13.0f}" + ("" if status == 0 else f"  (exit {status})"),
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
