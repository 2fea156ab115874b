"""Faults: a killed run, two commands at once, a moved project, a huge transcript."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import cli
from coding.errors import StoreError
from coding.lock import ProjectLock
from coding.project import Project, code_project

from conftest import ROOT, transcript_text

PARA = "A: 展示会起点でのコネクションからライセンス契約に至ったケースはほとんどない。共同研究になってしまうと成果が共同発明になり、共有特許になってしまう。専門人材が慢性的に不足している。\n\n"


def huge_body(n_bytes: int) -> str:
    body, i = [], 0
    size = 0
    while size < n_bytes:
        para = PARA.replace("ケース", f"ケース{i}")
        body.append(para)
        size += len(para.encode("utf-8"))
        i += 1
    return "".join(body)


def _cli(project: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "cli.py"), *args, "--project", str(project)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()} if folder.exists() else {}


def _children(pid: int) -> list[int]:
    """The process's children (Linux /proc): the parsing workers, once parsing has begun."""
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _wait_gone(pids: list[int], timeout: float = 30.0) -> None:
    """Wait until these processes have ended (gone, or a zombie: its files are closed)."""
    deadline = time.time() + timeout
    for pid in pids:
        while time.time() < deadline:
            try:
                if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    break
            except (OSError, IndexError):
                break
            time.sleep(0.02)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to see the parsing workers start")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_code_run_leaves_the_store_as_it_was(project, sig):
    small = project / "transcripts" / "a.md"
    small.write_text(transcript_text("A: 専門人材が慢性的に不足している。\n", id="JP-A"), encoding="utf-8")
    assert CliRunner().invoke(cli, ["code", "--project", str(project)], catch_exceptions=False).exit_code == 0
    rows = (project / "outputs" / "cache" / "suggestions.csv").read_text(encoding="utf-8").splitlines()
    (project / "in.csv").write_text("\n".join([rows[0].split(",pattern")[0], rows[1].split(",suggested,")[0] + ",accepted,hanako"]) + "\n", encoding="utf-8")
    assert CliRunner().invoke(cli, ["import", "codings", str(project / "in.csv"), "--project", str(project)]).exit_code == 0
    decisions = _snapshot(project / "codings")
    suggestions = (project / "outputs" / "cache" / "suggestions.csv").read_bytes()
    for i in range(4):  # enough text that two workers parse for several seconds
        (project / "transcripts" / f"big{i}.md").write_text(transcript_text(huge_body(300_000), id=f"JP-BIG{i}"), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "code", "--jobs", "2", "--project", str(project)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not _children(proc.pid):
        time.sleep(0.02)
    assert proc.poll() is None and _children(proc.pid), "the run ended before its workers started parsing"
    workers = _children(proc.pid)
    os.killpg(proc.pid, sig)  # the whole process group, as Ctrl+C or a killed terminal does
    proc.wait(timeout=60)
    _wait_gone(workers)  # a killed worker frees the project's lock when it is gone, a moment after its parent
    assert _snapshot(project / "codings") == decisions
    assert (project / "outputs" / "cache" / "suggestions.csv").read_bytes() == suggestions
    # no half-written file outside the cache (a cache temp file is ignored by every reader)
    leftovers = [p for p in project.rglob("*.tmp") if "cache" not in p.parts]
    assert leftovers == []
    # and the next run completes normally
    assert CliRunner().invoke(cli, ["code", "--project", str(project)], catch_exceptions=False).exit_code == 0


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to see the parsing workers start")
def test_workers_end_when_their_parent_is_killed(project):
    for i in range(4):
        (project / "transcripts" / f"big{i}.md").write_text(transcript_text(huge_body(300_000), id=f"JP-BIG{i}"), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "code", "--jobs", "2", "--project", str(project)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and len(_children(proc.pid)) < 2:
        time.sleep(0.02)
    workers = _children(proc.pid)
    assert proc.poll() is None and workers, "the run ended before its workers started parsing"
    time.sleep(0.5)  # past the workers' start-up
    proc.kill()  # the parent alone, as the out-of-memory killer does
    proc.wait(timeout=60)
    _wait_gone(workers, timeout=3)  # well before they would finish parsing and find no one to report to
    alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()
             and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")]
    assert alive == [], "parsing workers outlived their parent"


def test_two_commands_at_once_get_a_clear_message(project):
    (project / "transcripts" / "a.md").write_text(transcript_text("A: 共願が多い。\n", id="JP-A"), encoding="utf-8")
    assert CliRunner().invoke(cli, ["validate", "--no-names", "--project", str(project)]).exit_code == 0
    assert not (project / "outputs").exists()  # checking a project writes nothing into it
    (project / "outputs").mkdir()
    with ProjectLock(project, what="code"):
        proc = _cli(project, "code")
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert out.decode() == (f"Error: {project}: the project is busy (pid {os.getpid()}: code); wait for that command to finish "
                            "and run this one again\n\nFix what is named above and run the command again.\n")
    assert not (project / "outputs" / "cache" / "suggestions.csv").exists()
    assert CliRunner().invoke(cli, ["code", "--project", str(project)]).exit_code == 0  # released


def test_the_lock_follows_no_symlink(project, tmp_path_factory):
    """A link planted where the lock notes its holder is never written through."""
    victim = tmp_path_factory.mktemp("other") / "precious.txt"
    victim.write_text("keep me", encoding="utf-8")
    (project / "outputs").mkdir()
    (project / "outputs" / ".lock").symlink_to(victim)
    (project / "transcripts" / "a.md").write_text(transcript_text("A: 共願が多い。\n", id="JP-A"), encoding="utf-8")
    assert CliRunner().invoke(cli, ["code", "--project", str(project)], catch_exceptions=False).exit_code == 0
    assert victim.read_text(encoding="utf-8") == "keep me"
    with ProjectLock(project, what="code"):
        with pytest.raises(StoreError, match="the project is busy \\(another command\\)"):
            with ProjectLock(project, what="second"):
                pass


def test_moved_project_still_works(project, tmp_path_factory):
    (project / "transcripts" / "a.md").write_text(transcript_text("A: 専門人材が慢性的に不足している。\n", id="JP-A"), encoding="utf-8")
    first = code_project(Project.open(project))
    assert first.parsed == 1
    moved = tmp_path_factory.mktemp("elsewhere") / "study"
    shutil.copytree(project, moved)
    shutil.rmtree(project)
    again = code_project(Project.open(moved))
    assert (again.parsed, again.suggestions) == (0, first.suggestions)
    for p in moved.rglob("*"):
        if p.is_file() and p.suffix in (".csv", ".json", ".yml", ".md"):
            assert str(project) not in p.read_text(encoding="utf-8", errors="replace"), p


def test_huge_transcript_codes_without_error(project):
    (project / "transcripts" / "big.md").write_text(transcript_text(huge_body(1_000_000), id="JP-BIG"), encoding="utf-8")
    assert (project / "transcripts" / "big.md").stat().st_size >= 1_000_000
    res = code_project(Project.open(project))
    assert res.parsed == 1 and res.by_code.get("課題①", 0) >= 1000


class _TaskSpy:
    """A worker pool that records the pickled size of every task it is given."""

    def __init__(self, pool, sizes: list):
        self.pool, self.sizes = pool, sizes

    def __enter__(self):
        self.pool.__enter__()
        return self

    def __exit__(self, *exc):
        return self.pool.__exit__(*exc)

    def apply_async(self, fn, args):
        import pickle

        self.sizes.append(len(pickle.dumps(args)))
        return self.pool.apply_async(fn, args)

    def imap(self, fn, items):
        import pickle

        items = list(items)
        self.sizes.extend(len(pickle.dumps(x)) for x in items)
        return self.pool.imap(fn, items)


@pytest.mark.parametrize("stage", ["code", "names"])
def test_tasks_for_the_workers_are_indices_not_texts(project, monkeypatch, stage):
    """Workers get the transcripts when they start; a task names a few of them. A task carrying the
    texts could fill the pipe to the workers, and the pool's feeder thread, stuck writing it, hung
    the clean-up after Ctrl+C."""
    import coding.anonymity as anonymity
    import coding.nlp as nlp
    from coding.nlp import NlpSettings

    sizes: list[int] = []
    real = nlp.worker_pool
    spy = lambda *a, **k: _TaskSpy(real(*a, **k), sizes)  # noqa: E731
    monkeypatch.setattr(nlp, "worker_pool", spy)
    monkeypatch.setattr(anonymity, "worker_pool", spy)
    n = 12_000 if stage == "code" else 3_000
    for i in range(4):
        (project / "transcripts" / f"t{i}.md").write_text(transcript_text(huge_body(n * 3), id=f"JP-T{i}"), encoding="utf-8")
    p = Project.open(project)
    if stage == "code":
        code_project(p, jobs=2)
    else:
        ner = NlpSettings.for_needs((), ner=True, model=p.nlp_settings().model)
        found = anonymity.ner_scan(p.transcripts, ner, project / "names", jobs=2, writable=False)
        assert set(found) == {t.id for t in p.transcripts}
    assert len(sizes) >= 2 and max(sizes) < 500, sizes  # the texts are ≥ 9 KB each, pickled
