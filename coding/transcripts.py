"""Stage 1: read interview notes (FORMATS.md §2) into transcripts, paragraphs and segments.

Offsets everywhere are code-point offsets into the transcript's *body* (the text after the line
that closes the front matter, newlines normalised to ``\\n``), end exclusive.

Segmentation is rule based and independent of the NLP model on purpose: a segment's identity
``(transcript_id, start, end)`` must not change when the model or its version changes, or human
decisions anchored to segments would drift.
"""
from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Collection, Iterable, Iterator, Mapping

from .errors import TranscriptError
from .yamlfile import YamlProblem, dup_keys, key_line, load_yaml, strip_lines

REQUIRED_KEYS = ("id", "org", "region", "kind", "attribute")
KNOWN_KEYS = ("id", "org", "region", "country", "kind", "attribute", "group", "date")
ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")
HELP = "the keys are explained under 'Transcripts' in FORMATS.md (docs/formats.md)"
SUFFIXES = (".md", ".txt")
IMPORTABLE = (".docx", ".txt", ".md")  # what `import notes` turns into a transcript

# A speaker tag opens a paragraph: Q:, A:, 問:, 答:, full-width forms, or a short name.
SPEAKER_RE = re.compile(r"^[ \t　]*((?:Q|A|Ｑ|Ａ|問|答|[^\s:：。、「」（）()]{1,15})[ \t]*[:：])[ \t　]*")
# Sentence ends: 。！？!? (and a full stop after a closing bracket) outside brackets.
_OPEN = "「『（(［[【〔"
_CLOSE = "」』）)］]】〕"
_ENDS = "。！？!?"


@dataclass(frozen=True)
class Paragraph:
    """A run of non-blank lines. ``start`` is where the coded text begins (after any speaker tag)."""

    transcript_id: str
    index: int  # 0-based
    start: int
    end: int
    speaker: str | None
    text: str


@dataclass(frozen=True)
class Segment:
    """A coding unit: a sentence inside a paragraph (or any span a person chose)."""

    transcript_id: str
    start: int
    end: int
    text: str
    paragraph: int  # index of the paragraph that contains ``start``

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.transcript_id, self.start, self.end)


@dataclass(frozen=True)
class Transcript:
    """One interview. ``attributes`` holds every front-matter key; ``case_vars`` the extra ones."""

    id: str
    path: Path
    attributes: Mapping[str, str]
    body: str
    body_line: int  # 1-based line of the file where the body starts
    encoding: str
    paragraphs: tuple[Paragraph, ...] = field(default=(), repr=False)

    @property
    def org(self) -> str:
        return self.attributes["org"]

    @property
    def region(self) -> str:
        return self.attributes["region"]

    @property
    def attribute(self) -> str:
        return self.attributes["attribute"]

    @property
    def kind(self) -> str:
        return self.attributes["kind"]

    @property
    def country(self) -> str:
        return self.attributes.get("country", "")

    @property
    def case_vars(self) -> dict[str, str]:
        return {k: v for k, v in self.attributes.items() if k not in KNOWN_KEYS}

    @property
    def content_hash(self) -> str:
        return text_hash(self.body)

    def line_of(self, offset: int) -> int:
        """The 1-based file line of a body offset (for located messages)."""
        return self.body_line + self.body.count("\n", 0, offset)

    def segments(self) -> list[Segment]:
        """Sentence segments of every paragraph, in body order."""
        return [s for p in self.paragraphs for s in split_sentences(p)]

    @cached_property
    def segment_spans(self) -> tuple[tuple[int, int], ...]:
        """``(start, end)`` of every sentence segment (computed once)."""
        return tuple((s.start, s.end) for s in self.segments())

    def paragraph_at(self, offset: int) -> Paragraph | None:
        for p in self.paragraphs:
            if p.start <= offset < max(p.end, p.start + 1):
                return p
        return None


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


# ---------------------------------------------------------------- decoding
def decode_bytes(data: bytes, name: str) -> tuple[str, str]:
    """Decode a transcript's bytes: UTF-8 (± BOM), UTF-16 (± BOM) or CP932; refuse anything else.

    Returns ``(text, encoding)``. Raises :class:`TranscriptError` naming the file rather than
    guessing: a transcript read as mojibake would silently corrupt every coding made on it.
    """
    if data.startswith(codecs.BOM_UTF8):
        return _strict(data[3:], "utf-8", name), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict(data, "utf-16", name), "utf-16"
    if not data:
        return "", "utf-8"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # BOM-less UTF-16: every other byte of ASCII text is NUL.
    even, odd = data[0::2], data[1::2]
    if len(data) % 2 == 0 and (odd.count(0) > len(odd) * 0.3 or even.count(0) > len(even) * 0.3):
        enc = "utf-16-le" if odd.count(0) >= even.count(0) else "utf-16-be"
        return _strict(data, enc, name), enc
    try:
        text = data.decode("cp932")
    except UnicodeDecodeError:
        raise TranscriptError(
            f"{name}: cannot decode: not UTF-8, UTF-16 or CP932 (Shift_JIS). "
            "Save the file as UTF-8 and try again."
        ) from None
    if not _plausible_japanese(text):
        raise TranscriptError(
            f"{name}: the bytes decode as CP932 but do not look like Japanese text "
            "(another encoding such as EUC-JP?). Save the file as UTF-8 and try again."
        )
    return text, "cp932"


def _strict(data: bytes, enc: str, name: str) -> str:
    try:
        return data.decode(enc)
    except UnicodeDecodeError as e:
        raise TranscriptError(f"{name}: invalid {enc} at byte {e.start}. Save the file as UTF-8.") from None


def _plausible_japanese(text: str) -> bool:
    """CP932 decodes most byte soups; accept it only when the result reads as Japanese."""
    letters = [c for c in text if not c.isspace()]
    if not letters:
        return True
    good = 0
    for c in letters:
        o = ord(c)
        if o < 0x80 or 0x3000 <= o <= 0x30FF or 0x4E00 <= o <= 0x9FFF or 0xFF01 <= o <= 0xFF5E:
            good += 1
    # Half-width katakana (0xFF61-0xFF9F) is where mojibake from EUC-JP/UTF-8 lands.
    halfwidth = sum(1 for c in letters if 0xFF61 <= ord(c) <= 0xFF9F)
    return good / len(letters) >= 0.9 and halfwidth / len(letters) < 0.05


def normalise_newlines(text: str) -> str:
    """Line ends as ``\n``; Word's manual line break (U+000B) and a form feed are line breaks too
    (one character for one, so offsets do not move)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x0b", "\n").replace("\x0c", "\n")


CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


# ---------------------------------------------------------------- parsing
def parse_transcript(
    text: str, path: Path | str, *, encoding: str = "utf-8", regions: Collection[str] | None = None
) -> Transcript:
    """Parse a decoded transcript. Raises :class:`TranscriptError` with ``file:line`` messages."""
    path = Path(path)
    name = str(path)
    text = normalise_newlines(text)
    bad = CONTROL.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise TranscriptError(f"{name}:{line}: holds the control character U+{ord(bad.group(0)):04X}, which is not "
                              "text (is the file a document saved as text by mistake?); remove it")
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise TranscriptError(f"{name}:1: front matter missing: the file must start with a line '---'.")
    close = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if close is None:
        raise TranscriptError(f"{name}:1: front matter not closed: add a line '---' after the attributes.")
    header = "\n".join(lines[1:close])
    try:
        meta = load_yaml(header, max_bytes=1 << 20, max_nodes=10_000) if header.strip() else {}
    except YamlProblem as e:
        what = f"is {e.message}" if e.message.startswith("not valid") else f"cannot be read: {e.message}"
        raise TranscriptError(f"{name}:{e.line + 1}: front matter {what} ({HELP})") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise TranscriptError(f"{name}:2: front matter must be 'key: value' lines ({HELP}).")

    def line_of_key(key: str) -> int:
        return key_line(meta, key, 0) + 1 if key in meta else 1

    problems = []
    for k in dup_keys(meta):
        problems.append(f"{name}:{line_of_key(k)}: front matter key '{k}' is written twice; keep one")
    attrs: dict[str, str] = {}
    for k, v in strip_lines(meta).items():
        if isinstance(v, (dict, list)):
            problems.append(f"{name}:{line_of_key(k)}: front matter '{k}' must be one value, not a list or mapping")
            continue
        attrs[str(k)] = "" if v is None else str(v)
    for key in REQUIRED_KEYS:
        if not attrs.get(key, "").strip() and not any(key in p for p in problems):
            problems.append(f"{name}:{line_of_key(key)}: front matter has no '{key}' ({HELP})")
    tid = attrs.get("id", "")
    if tid and not ID_RE.match(tid):
        problems.append(f"{name}:{line_of_key('id')}: id '{tid}' may use only letters, digits, '-' and '_'")
    if regions is not None and attrs.get("region") and attrs["region"] not in regions:
        problems.append(
            f"{name}:{line_of_key('region')}: unknown region '{attrs['region']}' "
            f"(the codebook knows {', '.join(regions)})"
        )
    if problems:
        raise TranscriptError(f"{name}: invalid front matter", problems)
    body = "\n".join(lines[close + 1 :])
    t = Transcript(id=tid, path=path, attributes=attrs, body=body, body_line=close + 2, encoding=encoding)
    object.__setattr__(t, "paragraphs", tuple(split_paragraphs(tid, body)))
    return t


def read_transcript(path: Path | str, *, regions: Collection[str] | None = None) -> Transcript:
    """Read one transcript file (any supported encoding)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise TranscriptError(f"{path}: cannot read: {e.strerror}") from None
    text, enc = decode_bytes(data, str(path))
    return parse_transcript(text, path, encoding=enc, regions=regions)


def transcript_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())


def stray_files(folder: Path | str) -> list[str]:
    """Warnings for files in ``transcripts/`` that are not read as transcripts (a Word memo
    dropped there is not coded until it is imported)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    out = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or not p.is_file() or p.suffix.lower() in SUFFIXES:
            continue
        hint = (f"turn it into one with: python cli.py import notes {p} --id ID --org ORG --region REGION --kind KIND"
                if p.suffix.lower() in IMPORTABLE else "only .md and .txt files with front matter are read")
        out.append(f"{p}: not a transcript, so it is not coded; {hint}")
    return out


def read_transcripts(
    folder: Path | str, *, regions: Collection[str] | None = None, order: str = "date"
) -> list[Transcript]:
    """Read every transcript in ``folder``; collect all problems and raise them together.

    ``order``: ``date`` (interview date, then file name — the "transcript order" the attribution
    notes use), ``file`` or ``id``.
    """
    folder = Path(folder)
    out: list[Transcript] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for p in transcript_files(folder):
        try:
            t = read_transcript(p, regions=regions)
        except TranscriptError as e:
            problems.extend(e.problems or [str(e)])
            continue
        if t.id in seen:
            problems.append(f"{p}:2: duplicate transcript id '{t.id}' (also in {seen[t.id]})")
            continue
        seen[t.id] = p
        out.append(t)
    if problems:
        raise TranscriptError(f"{len(problems)} problem(s) in transcripts", problems)
    return order_transcripts(out, order)


def order_transcripts(ts: Iterable[Transcript], order: str = "date") -> list[Transcript]:
    ts = list(ts)
    if order == "file":
        return sorted(ts, key=lambda t: t.path.name)
    if order == "id":
        return sorted(ts, key=lambda t: t.id)
    return sorted(ts, key=lambda t: (t.attributes.get("date") or "9999", t.path.name))


def split_paragraphs(transcript_id: str, body: str) -> Iterator[Paragraph]:
    """Paragraphs = runs of non-blank lines; a leading speaker tag is not part of the text."""
    index = 0
    for block in re.finditer(r"(?:^[^\n]*\S[^\n]*(?:\n|$))+", body, flags=re.M):
        start, end = block.start(), block.end()
        raw = body[start:end].rstrip("\n")
        end = start + len(raw)
        speaker = None
        m = SPEAKER_RE.match(raw)
        text_start = start
        if m:
            speaker = m.group(1)[:-1].strip()
            text_start = start + m.end()
        # strip leading whitespace of the coded text
        while text_start < end and body[text_start] in " \t　":
            text_start += 1
        while end > text_start and body[end - 1] in " \t　":
            end -= 1
        yield Paragraph(transcript_id, index, text_start, end, speaker, body[text_start:end])
        index += 1


def split_sentences(p: Paragraph) -> list[Segment]:
    """Split a paragraph into sentences at 。！？!? outside brackets, and at line breaks."""
    segs: list[Segment] = []
    text, base = p.text, p.start
    depth = 0
    s = 0
    i = 0
    n = len(text)

    def emit(a: int, b: int) -> None:
        while a < b and text[a] in " \t　\n":
            a += 1
        while b > a and text[b - 1] in " \t　\n":
            b -= 1
        if b > a:
            segs.append(Segment(p.transcript_id, base + a, base + b, text[a:b], p.index))

    while i < n:
        c = text[i]
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth = max(0, depth - 1)
        if c == "\n":
            emit(s, i)
            s = i + 1
            depth = 0
        elif c in _ENDS and depth == 0:
            j = i + 1
            while j < n and (text[j] in _ENDS or text[j] in _CLOSE):
                j += 1
            emit(s, j)
            s = j
            i = j
            continue
        i += 1
    emit(s, n)
    return segs
