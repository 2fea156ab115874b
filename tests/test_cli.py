"""The command line: help, examples, README coverage, located errors without tracebacks."""
from __future__ import annotations

import csv
import io
import re

import click
import pytest
from click.testing import CliRunner

from cli import cli

from conftest import ROOT, transcript_text


def _commands(group: click.Group, prefix=""):
    for name, cmd in group.commands.items():
        full = f"{prefix}{name}"
        yield full, cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, full + " ")


def test_help_lists_the_commands():
    res = CliRunner().invoke(cli, ["--help"])
    assert res.exit_code == 0
    listed = set(re.findall(r"^  (\w+)", res.output.split("Commands:")[1], flags=re.M))
    assert {"validate", "code", "export", "import", "run"} <= listed


def test_every_command_has_an_example_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, cmd in _commands(cli):
        assert "Example:" in (cmd.help or ""), f"'{name}' has no Example in its help"
        if not isinstance(cmd, click.Group):
            assert f"cli.py {name}" in readme, f"README does not show 'cli.py {name}'"
            if name != "init":  # init makes the project folder it is given
                assert "--project" in " ".join(o for p in cmd.params for o in getattr(p, "opts", [])), name


def run(*args):
    """The command's exit code and output; an exception that is not a clean exit fails the test."""
    return CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)


def _bad_transcript(project, text, name="bad.md"):
    (project / "transcripts" / name).write_text(text, encoding="utf-8")


CASES = {
    "missing id": (lambda p: _bad_transcript(p, transcript_text("A: x").replace("id: JP-T\n", "")), r"bad.md:1: front matter has no 'id'"),
    "unclosed front matter": (lambda p: _bad_transcript(p, "---\nid: X\norg: x\n\nA: x\n"), r"bad.md:1: front matter not closed"),
    "duplicate id": (lambda p: (_bad_transcript(p, transcript_text("A: x"), "a.md"), _bad_transcript(p, transcript_text("A: y"), "b.md")), r"b.md:2: duplicate transcript id 'JP-T'"),
    "unknown region": (lambda p: _bad_transcript(p, transcript_text("A: x", region="南極")), r"bad.md:4: unknown region '南極'"),
    "YAML error": (lambda p: (p / "codebook.yml").write_text("codes:\n  - id: A\n    label: [x\n", encoding="utf-8"), r"codebook.yml:\d+: not valid YAML"),
    "duplicate code id": (lambda p: (p / "codebook.yml").write_text((p / "codebook.yml").read_text(encoding="utf-8") + "  - id: 課題①\n    kind: challenge\n    label: again\n    definition: d\n", encoding="utf-8"), r"codebook.yml:\d+: 課題①: duplicate code id"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_located_with_exit_1_and_no_traceback(project, case):
    make, message = CASES[case]
    (project / "transcripts" / "ok.md").write_text(transcript_text("A: 共願が多い。", id="JP-OK"), encoding="utf-8")
    make(project)
    for command in (["validate"], ["run"]):
        res = run(*command, "--project", project)
        assert res.exit_code == 1, res.output
        assert re.search(message, res.output), res.output
    assert not (project / "outputs").exists()  # nothing was written


def test_malformed_codings_csv_is_refused_naming_the_row(project):
    (project / "transcripts" / "ok.md").write_text(transcript_text("A: 共願が多い。", id="JP-OK"), encoding="utf-8")
    bad = project / "in.csv"
    bad.write_text("transcript_id,start,end,text,code_id,code_ref,status,coder\nJP-OK,0,5,共願が多い,課題⑤,,accepted,x\nJP-OK,a,5,x,課題⑤,,accepted,x\n", encoding="utf-8")
    res = run("import", "codings", bad, "--project", project)
    assert res.exit_code == 1 and "in.csv: row 3: start/end must be integers" in res.output
    assert not (project / "codings").exists()


def test_code_export_import_round_trip(project):
    (project / "transcripts" / "ok.md").write_text(transcript_text("A: 専門人材が慢性的に不足している。\n", id="JP-OK"), encoding="utf-8")
    res = run("code", "--project", project)
    assert res.exit_code == 0, res.output
    assert re.search(r"1 transcripts \(1 parsed, 0 from cache\); \d+ suggestions", res.output)
    out = project / "c.csv"
    res = run("export", "codings", "--format", "csv", "-o", out, "--project", project)
    assert res.exit_code == 0 and "wrote" in res.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows and list(rows[0])[:8] == ["transcript_id", "start", "end", "text", "code_id", "code_ref", "status", "coder"]
    for r in rows:
        r["status"] = "accepted"
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    out.write_text(buf.getvalue(), encoding="utf-8")
    res = run("import", "codings", out, "--coder", "hanako", "--project", project)
    assert res.exit_code == 0 and f"hanako: {len(rows)} added, 0 changed" in res.output
    res = run("code", "--project", project)
    assert "(0 parsed, 1 from cache)" in res.output and f"0 pending review, {len(rows)} decisions" in res.output


@pytest.mark.parametrize("encoding", ["cp932", "utf-16"])
def test_cp932_and_utf16_crlf_code_like_their_utf8_twin(project, encoding):
    body = "Q: 課題は？\n\nA: 展示会起点でのコネクションからライセンス契約に至ったケースはほとんどない。\n\nA: ＴＬＯのロイヤリティ設計。\n"
    (project / "transcripts" / "u.md").write_text(transcript_text(body, id="U"), encoding="utf-8")
    (project / "transcripts" / "e.md").write_bytes(transcript_text(body, id="E").replace("\n", "\r\n").encode(encoding))
    assert run("code", "--project", project).exit_code == 0
    rows = list(csv.DictReader(io.StringIO((project / "outputs" / "cache" / "suggestions.csv").read_text(encoding="utf-8"))))
    u = [{k: v for k, v in r.items() if k != "transcript_id"} for r in rows if r["transcript_id"] == "U"]
    e = [{k: v for k, v in r.items() if k != "transcript_id"} for r in rows if r["transcript_id"] == "E"]
    assert u and u == e


def test_run_writes_the_case_sheets_once_a_case_is_coded(project, tmp_path):
    (project / "transcripts" / "ok.md").write_text(transcript_text("A: 共願が多い。", id="JP-OK"), encoding="utf-8")
    res = run("run", "--project", project)
    assert res.exit_code == 0 and "case sheets: none yet (no case code is coded)" in res.output, res.output
    assert not (project / "outputs" / "cases").exists()
    text = (project / "transcripts" / "ok.md").read_text(encoding="utf-8")
    start = text.split("\n---\n", 1)[1].index("共願が多い。")
    (project / "codings").mkdir(exist_ok=True)
    (project / "codings" / "hanako.csv").write_text(
        "transcript_id,start,end,text,code_id,code_ref,status,coder\n"
        f"JP-OK,{start},{start + 6},共願が多い。,事例①,,manual,hanako\n", encoding="utf-8")
    res = run("run", "--project", project)
    assert res.exit_code == 0, res.output
    assert re.search(r"^1 case sheet\(s\); wrote \d+ file\(s\) to .*cases$", res.output, flags=re.M), res.output
    assert {"index.md", "cases.html", "cases.docx"} <= {f.name for f in (project / "outputs" / "cases").iterdir()}
