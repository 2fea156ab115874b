"""Inputs an attacker or an accident brings: markup in quotes, control characters, TeX in labels,
a full disk, decisions the codebook no longer knows."""
from __future__ import annotations

import errno
import json
import re

import networkx as nx
import pytest
from click.testing import CliRunner

from cli import cli
from coding.errors import TranscriptError, WriteError
from coding.export import to_markdown
from coding.files import atomic_write_text
from coding.network_export import html_text, png_bytes
from coding.transcripts import parse_transcript

from conftest import transcript_text


def _graph(quote: str, label: str = "課題") -> nx.Graph:
    G = nx.Graph(network="challenge-practice", window="paragraph", weight_by="windows", regions=["日本"])
    G.add_node("a", kind="challenge", label=label, ref="a", orgs=1, quotes=[{"text": quote, "attribution": "国立大"}])
    G.add_node("b", kind="practice", label="P", ref="b", orgs=1)
    G.add_edge("a", "b", kind="declared", weight=1.0, pair="challenge-practice", relation="answers", support=1)
    return G


def test_markup_in_a_quote_neither_ends_nor_blanks_the_network_page():
    quote = "注意 <!-- ここ --> </script><script>alert(1)</script> \u2028 終わり"
    page = html_text(_graph(quote))
    m = re.search(r'<script type="application/json" id="network-data">(.*?)</script>', page, flags=re.S)
    assert "</script><script>alert(1)" not in page and "<!-- ここ" not in page
    data = json.loads(m.group(1))  # what the page's own script parses
    assert quote in json.dumps(data, ensure_ascii=False)


def test_tex_in_a_label_is_drawn_as_text():
    png = png_bytes(_graph("x", label=r"料率$\frac{ と $5"))  # unbalanced TeX would stop the figure
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_markup_in_a_table_cell_is_text_in_markdown():
    md = to_markdown({"layout": [{"type": "practices", "id": "T", "title": "<b>t</b>"}],
                      "practice_table": {"rows": [{"problem": "<script>x</script>", "n_problem_orgs": 1, "practice": "p",
                                                   "n_orgs": 1, "cases": []}]}})
    assert "<script>" not in md and "&lt;script&gt;x&lt;/script&gt;" in md and "## T &lt;b&gt;t&lt;/b&gt;" in md


def test_a_control_character_in_a_note_is_refused_with_its_line():
    with pytest.raises(TranscriptError, match=r"a.md:12: holds the control character U\+0000"):
        parse_transcript(transcript_text("A: 一行目。\n\nA: 二\x00行目。\n"), "a.md")


def test_words_manual_line_break_is_a_line_break():
    t = parse_transcript(transcript_text("A: 一行目。\x0b二行目。\n"), "a.md")
    assert [s.text for s in t.segments()] == ["一行目。", "二行目。"] and "\x0b" not in t.body


def test_a_full_disk_is_one_message_and_changes_nothing(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    target.write_text("before", encoding="utf-8")
    import coding.files as files

    real = files.os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fdopen", lambda fd, mode: Full(real(fd, mode)))
    with pytest.raises(WriteError, match=r"out.txt: cannot write: No space left on device \(disk full\?\); the file was left as it was"):
        atomic_write_text(target, "after")
    assert target.read_text(encoding="utf-8") == "before" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_decisions_on_codes_the_codebook_dropped_are_announced(project, write):
    write("a.md", "A: 専門人材が不足している。\n", id="JP-A")
    (project / "codings").mkdir()
    (project / "codings" / "hanako.csv").write_text(
        "transcript_id,start,end,text,code_id,code_ref,status,coder\nJP-A,0,14,専門人材が不足している。,課題99,,manual,hanako\n",
        encoding="utf-8")
    res = CliRunner().invoke(cli, ["tables", "--format", "json", "--project", str(project)], catch_exceptions=False)
    assert res.exit_code == 0
    assert "note: decisions not used: 1 naming codes the codebook no longer has; they are kept" in res.output
    res = CliRunner().invoke(cli, ["code", "--project", str(project)], catch_exceptions=False)
    assert "warning: codings/hanako.csv: row 2: code '課題99' is not in the codebook (decision kept, not used)" in res.output
