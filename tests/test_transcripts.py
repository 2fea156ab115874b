"""Reading transcripts: encodings, front matter, paragraphs, sentences and offsets."""
from __future__ import annotations

import pytest

from coding.errors import TranscriptError
from coding.transcripts import read_transcript, read_transcripts

from conftest import transcript_text

BODY = "Q: 海外企業へのマーケティングは？\n\nA: 展示会に出しても成約はほとんどない。「国の予算で。」という声も。\n次の行。\n\n（メモ）出願費用は3年前の倍近く。\n"


def test_body_paragraphs_speakers_and_offsets(tmp_path):
    p = tmp_path / "t.md"
    p.write_text(transcript_text(BODY, id="JP-B"), encoding="utf-8")
    t = read_transcript(p)
    assert t.id == "JP-B" and t.attribute == "国立大" and t.region == "日本"
    assert t.body == BODY
    assert [(x.speaker, x.text) for x in t.paragraphs] == [
        ("Q", "海外企業へのマーケティングは？"),
        ("A", "展示会に出しても成約はほとんどない。「国の予算で。」という声も。\n次の行。"),
        (None, "（メモ）出願費用は3年前の倍近く。"),
    ]
    for para in t.paragraphs:
        assert t.body[para.start:para.end] == para.text
    segs = t.segments()
    assert [s.text for s in segs] == [
        "海外企業へのマーケティングは？",
        "展示会に出しても成約はほとんどない。",
        "「国の予算で。」という声も。",
        "次の行。",
        "（メモ）出願費用は3年前の倍近く。",
    ]
    for s in segs:
        assert t.body[s.start:s.end] == s.text
    assert t.line_of(segs[-1].start) == 15  # 9 front-matter lines, then the body


def test_extra_front_matter_keys_are_case_variables(tmp_path):
    p = tmp_path / "t.md"
    p.write_text(transcript_text("A: x").replace("date:", "staff: 12\ndate:"), encoding="utf-8")
    assert read_transcript(p).case_vars == {"staff": "12"}


@pytest.mark.parametrize("encoding,newline", [("utf-8-sig", "\n"), ("cp932", "\r\n"), ("utf-16", "\r\n"), ("utf-16-le", "\r"), ("shift_jis", "\n")])
def test_encodings_and_newlines_read_like_utf8(tmp_path, encoding, newline):
    ref = tmp_path / "ref.md"
    ref.write_text(transcript_text(BODY), encoding="utf-8")
    other = tmp_path / "other.md"
    other.write_bytes(transcript_text(BODY).replace("\n", newline).encode(encoding))
    a, b = read_transcript(ref), read_transcript(other)
    assert b.body == a.body and b.paragraphs == a.paragraphs and b.attributes == a.attributes


def test_undecodable_file_is_refused_by_name(tmp_path):
    p = tmp_path / "euc.md"
    p.write_bytes(transcript_text(BODY).encode("euc-jp"))
    with pytest.raises(TranscriptError, match="euc.md"):
        read_transcript(p)
    q = tmp_path / "bin.md"
    q.write_bytes(b"---\nid: X\n---\n\xff\xfe\xfa\x80\x81\xfd")
    with pytest.raises(TranscriptError, match="bin.md"):
        read_transcript(q)


def test_empty_body_is_fine(tmp_path):
    p = tmp_path / "t.md"
    p.write_text(transcript_text(""), encoding="utf-8")
    t = read_transcript(p)
    assert t.body == "" and t.paragraphs == () and t.segments() == []


@pytest.mark.parametrize(
    "text,message",
    [
        (transcript_text("A: x").replace("id: JP-T\n", ""), r"t.md:1: front matter has no 'id'"),
        ("---\nid: JP-T\norg: T\n\nA: x", r"t.md:1: front matter not closed"),
        ("A: no front matter", r"t.md:1: front matter missing"),
        (transcript_text("A: x", region="火星"), r"t.md:4: unknown region '火星'"),
        (transcript_text("A: x").replace("org: T大学", "org: [T大学"), r"t.md:\d+: front matter is not valid YAML"),
        (transcript_text("A: x").replace("attribute: 国立大\n", ""), r"t.md:1: front matter has no 'attribute'"),
        (transcript_text("A: x", id="JP T"), r"id 'JP T' may use only"),
    ],
)
def test_bad_front_matter_is_located(tmp_path, text, message):
    p = tmp_path / "t.md"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(TranscriptError, match=message):
        read_transcript(p, regions=["日本", "米国", "諸外国等"])


def test_duplicate_ids_are_reported_with_both_files(tmp_path):
    (tmp_path / "a.md").write_text(transcript_text("A: x", id="JP-A"), encoding="utf-8")
    (tmp_path / "b.md").write_text(transcript_text("A: y", id="JP-A"), encoding="utf-8")
    with pytest.raises(TranscriptError) as e:
        read_transcripts(tmp_path)
    assert "b.md:2: duplicate transcript id 'JP-A' (also in" in str(e.value) and "a.md" in str(e.value)


def test_transcript_order_is_interview_date(tmp_path):
    (tmp_path / "a.md").write_text(transcript_text("A: x", id="A", date="2025-12-01"), encoding="utf-8")
    (tmp_path / "b.md").write_text(transcript_text("A: y", id="B", date="2025-10-01"), encoding="utf-8")
    assert [t.id for t in read_transcripts(tmp_path)] == ["B", "A"]
    assert [t.id for t in read_transcripts(tmp_path, order="file")] == ["A", "B"]
