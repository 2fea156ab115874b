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
from coding.project import Project, ProjectLock, code_project

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


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_code_run_leaves_the_store_as_it_was(project, sig):
    small = project / "transcripts" / "a.md"
    small.write_text(transcript_text("A: 専門人材が慢性的に不足している。\n", id="JP-A"), encoding="utf-8")
    assert CliRunner().invoke(cli, ["code", "--project", str(project)]).exit_code == 0
    rows = (project / "outputs" / "cache" / "suggestions.csv").read_text(encoding="utf-8").splitlines()
    (project / "in.csv").write_text("\n".join([rows[0].split(",pattern")[0], rows[1].split(",suggested,")[0] + ",accepted,hanako"]) + "\n", encoding="utf-8")
    assert CliRunner().invoke(cli, ["import", "codings", str(project / "in.csv"), "--project", str(project)]).exit_code == 0
    decisions = _snapshot(project / "codings")
    suggestions = (project / "outputs" / "cache" / "suggestions.csv").read_bytes()
    (project / "transcripts" / "big.md").write_text(transcript_text(huge_body(600_000), id="JP-BIG"), encoding="utf-8")
    proc = _cli(project, "code")
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        out = project / "outputs" / "cache" / "nlp"
        if out.exists():  # parsing has begun
            break
        time.sleep(0.1)
    time.sleep(1.5)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert _snapshot(project / "codings") == decisions
    assert (project / "outputs" / "cache" / "suggestions.csv").read_bytes() == suggestions
    # no half-written file outside the cache (a cache temp file is ignored by every reader)
    leftovers = [p for p in project.rglob("*.tmp") if "cache" not in p.parts]
    assert leftovers == []
    # and the next run completes normally
    assert CliRunner().invoke(cli, ["code", "--project", str(project)]).exit_code == 0


def test_two_commands_at_once_get_a_clear_message(project):
    (project / "transcripts" / "a.md").write_text(transcript_text("A: 共願が多い。\n", id="JP-A"), encoding="utf-8")
    with ProjectLock(project, what="code"):
        proc = _cli(project, "code")
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "the project is busy (pid" in out.decode() and "Traceback" not in out.decode()
    assert not (project / "outputs" / "cache" / "suggestions.csv").exists()
    assert CliRunner().invoke(cli, ["code", "--project", str(project)]).exit_code == 0  # released


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
