"""Starting a study and bringing notes into it: ``init`` and ``import notes``.

``init`` writes a working project: a codebook (a small commented skeleton, or the sample report's
codebook with its learned suggester and settings), an example transcript, ``anonymity.yml``, and a
README and FORMATS.md that document the study's files inside it.

``import notes`` turns a Word document (.docx) or a plain-text memo (.txt / .md without front
matter, in UTF-8, CP932 or UTF-16) into a transcript: paragraphs kept, question and answer marks
(Q．, 質問：, 回答） …) written as the ``Q:`` / ``A:`` tags the tagger reads, the case attributes
written as front matter from the options or from a CSV of attributes for many files.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import yaml

from .codebook import load_codebook
from .errors import ProjectError, TranscriptError
from .files import atomic_write_text
from .transcripts import ID_RE, REQUIRED_KEYS, decode_bytes, normalise_newlines, parse_transcript, read_transcripts

TEMPLATE = Path(__file__).with_name("data") / "study"
TOOLKIT = Path(__file__).resolve().parent.parent  # a clone of the toolkit: the sample project and the docs
FORMATS_DOC = TOOLKIT / "docs" / "formats.md"


# ---------------------------------------------------------------- init
@dataclass
class InitResult:
    root: Path
    files: list[Path] = field(default_factory=list)


def init_study(dest: Path | str, *, from_sample: bool = False) -> InitResult:
    """Create a study in ``dest`` (a new or empty folder). ``from_sample``: the sample report's
    codebook (its codes, patterns, table layout and the shipped learned suggester it names) and
    the seed passages for retraining, instead of the skeleton codebook."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ProjectError(f"{dest}: already exists and is not an empty folder; choose a new folder for the study")
    res = InitResult(dest)

    def put(rel: str, text: str) -> None:
        path = dest / rel
        atomic_write_text(path, text)
        res.files.append(path)

    (dest / "transcripts").mkdir(parents=True, exist_ok=True)
    if from_sample:
        sample = TOOLKIT / "codebook.yml"
        if not sample.is_file():
            raise ProjectError(f"{sample}: the sample project is not here (init --from-sample works from a clone of the toolkit)")
        put("codebook.yml", sample.read_text(encoding="utf-8"))
        seeds = TOOLKIT / "models" / "report_seeds.yml"
        if seeds.is_file():
            put("models/report_seeds.yml", seeds.read_text(encoding="utf-8"))
    else:
        put("codebook.yml", (TEMPLATE / "codebook.yml").read_text(encoding="utf-8"))
    put("transcripts/EX-01.md", (TEMPLATE / "transcripts" / "EX-01.md").read_text(encoding="utf-8"))
    put("anonymity.yml", (TEMPLATE / "anonymity.yml").read_text(encoding="utf-8"))
    put("README.md", (TEMPLATE / "README.md").read_text(encoding="utf-8"))
    if FORMATS_DOC.is_file():
        put("FORMATS.md", FORMATS_DOC.read_text(encoding="utf-8"))
    put(".gitignore", "outputs/\n.*.tmp\n")
    load_codebook(dest / "codebook.yml")  # what init writes must load (a broken template is a bug, said here)
    return res


# ---------------------------------------------------------------- import notes
IMPORTABLE = (".docx", ".txt", ".md")
# Question and answer marks as memos write them, at the start of a paragraph → the tag the tagger reads.
QA_MARKS = [
    (re.compile(r"^\s*(?:[QＱ](?:\s*\d+)?\s*[.．:：)）]|[【\[（(]\s*[QＱ]\s*[】\]）)]|質問\s*[:：)）]|問\s*[:：)）.．]|聞き手\s*[:：])\s*"), "Q: "),
    (re.compile(r"^\s*(?:[AＡ](?:\s*\d+)?\s*[.．:：)）]|[【\[（(]\s*[AＡ]\s*[】\]）)]|回答\s*[:：)）]|答\s*[:：)）.．])\s*"), "A: "),
]


@dataclass(frozen=True)
class NoteImport:
    source: Path
    path: Path
    transcript_id: str
    paragraphs: int


def note_paragraphs(path: Path | str) -> list[str]:
    """The paragraphs of a Word document or a text memo, in order, question/answer marks as tags."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".docx":
        paras = _docx_paragraphs(path)
    elif suffix in (".txt", ".md"):
        try:
            data = path.read_bytes()
        except OSError as e:
            raise TranscriptError(f"{path}: cannot read: {e.strerror}") from None
        text, _ = decode_bytes(data, str(path))
        text = normalise_newlines(text)
        if text.lstrip().startswith("---\n"):
            raise TranscriptError(f"{path}: already has front matter; copy it into transcripts/ as it is")
        if re.search(r"\n[ \t　]*\n", text):
            paras = [b.strip("\n") for b in re.split(r"\n[ \t　]*\n+", text)]
        else:  # a memo with one paragraph per line
            paras = text.split("\n")
    else:
        raise TranscriptError(f"{path}: cannot import a {suffix or 'file without extension'}; "
                              f"import notes reads {', '.join(IMPORTABLE)}")
    out = []
    for p in paras:
        p = p.replace("\x0b", "\n").replace("\x0c", "\n").strip()
        if not p:
            continue
        for rx, tag in QA_MARKS:
            m = rx.match(p)
            if m:
                p = tag + p[m.end():].lstrip()
                break
        out.append("\n".join(line.rstrip() for line in p.split("\n")))
    return out


def _docx_paragraphs(path: Path) -> list[str]:
    """Paragraphs of a .docx in document order; a table's rows become paragraphs (cells joined by ' / ')."""
    import zipfile

    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise TranscriptError(f"{path}: not a Word document (.docx) that can be read: {e}") from None
    except OSError as e:
        raise TranscriptError(f"{path}: cannot read: {e.strerror or e}") from None
    out = []
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            out.append(Paragraph(child, document).text)
        elif tag == "tbl":
            for row in Table(child, document).rows:
                cells = [c.text.strip() for c in row.cells]
                out.append(" / ".join(dict.fromkeys(c for c in cells if c)))
    return out


def _front_matter(attrs: Mapping[str, str]) -> str:
    lines = ["---"]
    for k, v in attrs.items():
        lines.append(yaml.safe_dump({k: v}, allow_unicode=True, default_flow_style=False, width=10**6).strip())
    return "\n".join(lines) + "\n---\n"


def import_notes(root: Path | str, files: Sequence[Path | str], *, attributes: Mapping[str, str] | None = None,
                 cases: Path | str | None = None, force: bool = False) -> list[NoteImport]:
    """Turn Word or text memos into transcripts of the study at ``root``.

    ``attributes``: the front matter of a single file (id, org, region, kind, attribute; country,
    group, date and any case variable); ``cases``: a CSV with a ``file`` column and one column per
    attribute, one row per file. Every file is checked before anything is written; a transcript
    that already exists is not overwritten unless ``force``.
    """
    root = Path(root)
    cb = load_codebook(root / "codebook.yml")
    existing = {t.id: t.path for t in read_transcripts(root / "transcripts", regions=cb.regions)}
    table = _cases(cases) if cases is not None else {}
    if attributes and len(files) > 1 and attributes.get("id"):
        raise TranscriptError("--id names one transcript; give a CSV of attributes (--cases) for several files")
    planned: list[tuple[Path, Path, str, str, int]] = []
    problems: list[str] = []
    for f in map(Path, files):
        attrs = dict(table.get(f.name) or table.get(str(f)) or {})
        attrs.update({k: v for k, v in (attributes or {}).items() if v not in (None, "")})
        attrs.setdefault("id", re.sub(r"[^A-Za-z0-9_-]+", "-", f.stem).strip("-"))
        missing = [k for k in REQUIRED_KEYS if not str(attrs.get(k, "")).strip()]
        if missing:
            problems.append(f"{f}: no {', '.join(missing)} (give --{' --'.join(missing)}, or a --cases CSV)")
            continue
        if not ID_RE.match(attrs["id"]):
            problems.append(f"{f}: id '{attrs['id']}' may use only letters, digits, '-' and '_' (give --id)")
            continue
        try:
            paras = note_paragraphs(f)
        except TranscriptError as e:
            problems.append(str(e))
            continue
        if not paras:
            problems.append(f"{f}: no text to import")
            continue
        ordered = {k: str(attrs[k]) for k in ("id", "org", "region", "country", "kind", "attribute", "group", "date") if attrs.get(k)}
        ordered.update({k: str(v) for k, v in attrs.items() if k not in ordered and v not in (None, "")})
        text = _front_matter(ordered) + "\n\n".join(paras) + "\n"
        target = root / "transcripts" / f"{ordered['id']}.md"
        try:
            parse_transcript(text, target, regions=cb.regions)
        except TranscriptError as e:
            problems.extend(f"{f}: {p.split(': ', 1)[-1]}" for p in (e.problems or [str(e)]))
            continue
        other = existing.get(ordered["id"])
        if (other is not None and other != target) or (target.exists() and not force):
            problems.append(f"{f}: transcript '{ordered['id']}' already exists ({other or target}); "
                            "choose another --id" + ("" if other not in (None, target) else ", or --force to replace it"))
            continue
        if ordered["id"] in {p[2] for p in planned}:
            problems.append(f"{f}: id '{ordered['id']}' is given to two files")
            continue
        planned.append((f, target, ordered["id"], text, len(paras)))
    if problems:
        raise TranscriptError(f"{len(problems)} problem(s); nothing was imported", problems)
    out = []
    for f, target, tid, text, n in planned:
        atomic_write_text(target, text)
        out.append(NoteImport(f, target, tid, n))
    return out


def _cases(path: Path | str) -> dict[str, dict[str, str]]:
    """file name → attributes, from a CSV (UTF-8 with or without BOM, or CP932 as Excel saves it)."""
    path = Path(path)
    try:
        text, _ = decode_bytes(path.read_bytes(), str(path))
    except OSError as e:
        raise TranscriptError(f"{path}: cannot read: {e.strerror}") from None
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows or "file" not in (rows[0].keys()):
        raise TranscriptError(f"{path}:1: the CSV needs a 'file' column (the note's file name) and one column per attribute")
    out = {}
    for i, r in enumerate(rows, start=2):
        name = (r.pop("file") or "").strip()
        if not name:
            raise TranscriptError(f"{path}: row {i}: empty 'file'")
        out[name] = {k.strip(): (v or "").strip() for k, v in r.items() if k}
    return out
