"""REFI-QDA project exchange (``.qdpx``): export the project for QualCoder, NVivo, ATLAS.ti,
MAXQDA and friends, and import codings made there.

A ``.qdpx`` is a zip holding ``project.qde`` (XML in the namespace ``urn:QDA-XML:project:1.0``,
valid against the REFI-QDA Project schema of 2019) and ``sources/`` with each source's plain
text. We write:

- ``Users``: one per coder whose codings are exported, then this toolkit (the user that made
  the sources). QualCoder takes the first user as its coder name.
- ``CodeBook``: the codebook's hierarchy as nested ``Code`` elements (:mod:`coding.qdc`), then
  a group ``transcripts (cases)`` with one code per transcript whose GUID is its case's: the code
  covers the whole text. That is how NVivo writes cases and how QualCoder links a case to its
  text (it ignores a named case's ``SourceRef``).
- ``Variables``: every front-matter attribute twice — as a case variable (``region``) and as a
  source variable (``region (file)``): QualCoder files a variable under cases or files by where
  it is used first, so one variable cannot be both.
- ``Cases``: one per transcript (named by its id, the organisation as description) with its
  variables and a ``SourceRef``.
- ``Sources``: one ``TextSource`` per transcript, its body as UTF-8 without a byte-order mark and
  with LF line ends in ``sources/<guid>.txt`` (QualCoder reads a BOM as a character), every
  confirmed coding (accepted + manual) as a ``PlainTextSelection`` (code-point offsets into the
  body, end exclusive), one per span, coder, memo, status and quote flag, then the source
  variables. A selection's ``Description`` is the memo (QualCoder and NVivo show it as the coding
  memo); when the codings are ``accepted`` or marked ``quote``, its last line says so:
  ``[accepted]``, ``[quote]`` or ``[accepted, quote]`` (``[manual]`` when a memo's own last line
  would otherwise read as such a tag). Import reads the tag back, so status and quote flags
  survive a round trip, also through a program that keeps memos.
- ``Sets``: one per code kind and one per region of the findings (code groups in ATLAS.ti).

GUIDs are UUID5s of what they identify, so exporting twice gives the same file. Every text
passes :func:`coding.xmltext.to_xml`, so the XML is well-formed whatever the notes hold.

Import reads our files and those shaped as other programs write them: the ``.qde`` may be named
after the project, the folder ``Sources/`` or ``sources/``, GUIDs may carry braces, text may start
with a BOM and use CRLF, variables may sit on a nameless case with one ``SourceRef`` (MAXQDA) or on
the source, and cases may be codes too (NVivo). Codes are mapped to the codebook by GUID or name
(:func:`coding.qdc.map_code`).

**Positions.** The standard counts code points into the text file; some programs count UTF-16
units (a character beyond U+FFFF counts two) or a CR LF line break as one character. One program
wrote the file, so one convention holds for every source: each reading is tried on every
selection of the file; readings that put a boundary outside a text, inside a character or
between CR and LF are impossible; among the others, the one under which the most selection
``name``s equal the text they select wins. When readings that give different text remain tied —
typically when the names are empty, as NVivo writes them — the import is refused, naming the
readings and an example, until ``offsets`` (``--offsets``) says which; it never guesses.

**Bounds.** Only the members it needs are read (``project.qde`` and the text sources), each at
most :data:`MAX_MEMBER` bytes and :data:`MAX_TOTAL` in all, checked before and while unpacking;
encrypted and damaged members, XML with a DOCTYPE or nested deeper than 256 levels are refused,
naming the file and member. Nothing is written unless everything maps, and the coder files are
written all or none.
"""
from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Literal, Mapping, Sequence

from .errors import ExchangeError
from .files import all_or_nothing, atomic_write_bytes
from .project import Project
from .qdc import (
    ORIGIN, QCode, add_code_sets, add_code_tree, guid, guid_index, map_code, norm_guid,
    read_codes,
)
from .store import AUTO, CODER_RE, Coding, check_coder, codings_dir, reanchor, record_decisions
from .transcripts import Transcript, normalise_newlines
from .xmltext import XmlProblem, from_xml, kid, kids, local, parse_xml, text_of, to_xml, xml_bytes

NS = "urn:QDA-XML:project:1.0"
QdpxError = ExchangeError
CASE_GROUP = "transcripts (cases)"
FILE_VARIABLE = " (file)"  # suffix of the source variables' names
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
MAX_MEMBER = 64 * 2**20  # bytes a member read may unpack to
MAX_TOTAL = 512 * 2**20  # bytes all members read may unpack to
CONVENTIONS = ("codepoint", "codepoint/lines-as-one", "utf16", "utf16/lines-as-one")
Offsets = Literal["auto", "codepoint", "codepoint/lines-as-one", "utf16", "utf16/lines-as-one"]
SAYS = {"codepoint": "code points, a CR LF line break as two", "codepoint/lines-as-one": "code points, a line break as one",
        "utf16": "UTF-16 units, a CR LF line break as two", "utf16/lines-as-one": "UTF-16 units, a line break as one"}
# what the programs are documented to do; named in a refusal, never used to decide
HABITS = {"atlas": ("ATLAS.ti counts a line break as one character", "codepoint/lines-as-one"),
          "nvivo": ("NVivo counts UTF-16 units", "utf16")}
FLAGS_RE = re.compile(r"^\[(?:(accepted|manual)(?:, (quote))?|(quote))\]$")


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def flags_text(memo: str, status: str, quote: bool) -> str:
    """A selection's Description: the memo, then ``[accepted]``/``[quote]``/``[accepted, quote]``."""
    parts = (["accepted"] if status == "accepted" else []) + (["quote"] if quote else [])
    if not parts and FLAGS_RE.match(memo.rsplit("\n", 1)[-1].strip()):
        parts = ["manual"]  # so that the memo's own last line is not read as a tag
    if not parts:
        return memo
    tag = "[" + ", ".join(parts) + "]"
    return f"{memo}\n{tag}" if memo else tag


def read_flags(description: str) -> tuple[str, str | None, bool]:
    """(memo, status or None when no tag, quote) of a selection's Description."""
    head, sep, last = description.rpartition("\n")
    m = FLAGS_RE.match(last.strip())
    if not m:
        return description, None, False
    return (head if sep else ""), ("accepted" if m.group(1) == "accepted" else "manual"), bool(m.group(2) or m.group(3))


# ---------------------------------------------------------------- export
@dataclass(frozen=True)
class QdpxExport:
    path: Path
    sources: int = 0
    codes: int = 0
    cases: int = 0
    selections: int = 0
    codings: int = 0
    coders: tuple[str, ...] = ()


def _excerpt(text: str) -> str:
    """A selection's name: its text, cut at 60 characters."""
    return text if len(text) <= 60 else text[:60] + "…"


def _variable_type(values: list[str]) -> str:
    def is_date(v: str) -> bool:
        try:
            date.fromisoformat(v)
            return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v))
        except ValueError:
            return False

    return "Date" if values and all(is_date(v) for v in values) else "Text"


def _value(parent: ET.Element, variable_guid: str, kind: str, value: str) -> None:
    vv = ET.SubElement(parent, _q("VariableValue"))
    ET.SubElement(vv, _q("VariableRef"), {"targetGUID": variable_guid})
    ET.SubElement(vv, _q("DateValue" if kind == "Date" else "TextValue")).text = to_xml(value)


def build_qdpx(p: Project, *, coders: Sequence[str] | None = None, name: str | None = None,
               now: str | None = None) -> tuple[bytes, dict]:
    """The .qdpx bytes of project ``p`` and counts; confirmed codings of ``coders`` (all people
    when None) become selections."""
    now = now or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    cb = p.codebook
    codings = [c for c in p.store().resolved(p.by_id, coders=coders) if c.code_id in cb.codes]
    people = sorted({c.coder for c in codings})
    toolkit = guid("user", "\x00toolkit")
    project_name = name or str(cb.settings.title or Path(p.root).resolve().name)
    ET.register_namespace("", NS)
    root = ET.Element(_q("Project"), {"name": to_xml(project_name), "origin": ORIGIN,
                                      "creatingUserGUID": guid("user", people[0]) if people else toolkit,
                                      "creationDateTime": now})
    users = ET.SubElement(root, _q("Users"))
    for c in people:
        ET.SubElement(users, _q("User"), {"guid": guid("user", c), "name": to_xml(c), "id": to_xml(c)})
    ET.SubElement(users, _q("User"), {"guid": toolkit, "name": ORIGIN})
    # codebook: the codes, then one code per transcript with its case's GUID
    codes_el = ET.SubElement(ET.SubElement(root, _q("CodeBook")), _q("Codes"))
    n_codes = add_code_tree(codes_el, cb, _q)
    if p.transcripts:
        group = ET.SubElement(codes_el, _q("Code"), {"guid": guid("code-group", "cases"), "name": CASE_GROUP,
                                                      "isCodable": "false", "color": "#BAB0AC"})
        ET.SubElement(group, _q("Description")).text = (
            "One code per transcript, coding its whole text, with the GUID of its case: so programs that link "
            "cases to texts through codings (QualCoder, NVivo) show each case's text.")
        for t in p.transcripts:
            ET.SubElement(group, _q("Code"), {"guid": guid("case", t.id), "name": to_xml(t.id), "isCodable": "true",
                                              "color": "#BAB0AC"})
    # variables: every front-matter key but the id, for cases and for sources
    keys: list[str] = []
    for t in p.transcripts:
        keys.extend(k for k in t.attributes if k != "id" and k not in keys)
    types = {k: _variable_type([t.attributes[k] for t in p.transcripts if t.attributes.get(k)]) for k in keys}
    if keys:
        variables = ET.SubElement(root, _q("Variables"))
        for k in keys:
            ET.SubElement(variables, _q("Variable"), {"guid": guid("variable", k), "name": to_xml(k), "typeOfVariable": types[k]})
        for k in keys:
            ET.SubElement(variables, _q("Variable"), {"guid": guid("file-variable", k), "name": to_xml(k + FILE_VARIABLE),
                                                      "typeOfVariable": types[k]})
    if p.transcripts:
        cases = ET.SubElement(root, _q("Cases"))
        for t in p.transcripts:
            case = ET.SubElement(cases, _q("Case"), {"guid": guid("case", t.id), "name": to_xml(t.id)})
            if t.attributes.get("org"):
                ET.SubElement(case, _q("Description")).text = to_xml(t.attributes["org"])
            for k in keys:
                if t.attributes.get(k, ""):
                    _value(case, guid("variable", k), types[k], t.attributes[k])
            ET.SubElement(case, _q("SourceRef"), {"targetGUID": guid("source", t.id)})
    files: dict[str, bytes] = {}
    counts = {"sources": 0, "codes": n_codes, "cases": len(p.transcripts), "selections": 0, "codings": len(codings),
              "coders": tuple(people)}
    if p.transcripts:
        sources = ET.SubElement(root, _q("Sources"))
        # one selection per span, coder, memo, status and quote flag (its Description says them)
        by_span: dict[tuple, list[Coding]] = {}
        for c in codings:
            by_span.setdefault((c.transcript_id, c.start, c.end, c.coder, c.memo, c.status, c.quote), []).append(c)
        for t in p.transcripts:
            sg = guid("source", t.id)
            src = ET.SubElement(sources, _q("TextSource"), {
                "guid": sg, "name": to_xml(t.id), "plainTextPath": f"internal://{sg}.txt", "creatingUser": toolkit,
                "creationDateTime": now})
            ET.SubElement(src, _q("Description")).text = to_xml(f"{t.attributes.get('org', '')} ({t.path.name})".strip())
            files[f"sources/{sg}.txt"] = t.body.encode("utf-8")
            counts["sources"] += 1
            for (tid, start, end, coder, memo, status, quote), group in sorted(by_span.items()):
                if tid != t.id:
                    continue
                text = t.body[start:end]
                sel_attrs = {"guid": guid("selection", tid, str(start), str(end), coder, memo, status, str(quote)),
                             "name": to_xml(_excerpt(text)),
                             "startPosition": str(start), "endPosition": str(end), "creatingUser": guid("user", coder)}
                first = min((c.decided_at for c in group if DATETIME_RE.match(c.decided_at or "")), default="")
                if first:
                    sel_attrs["creationDateTime"] = first
                sel = ET.SubElement(src, _q("PlainTextSelection"), sel_attrs)
                description = flags_text(memo, status, quote)
                if description:
                    ET.SubElement(sel, _q("Description")).text = to_xml(description)
                for c in sorted(group, key=lambda c: c.code_id):
                    cattrs = {"guid": guid("coding", tid, str(start), str(end), c.code_id, coder),
                              "creatingUser": guid("user", coder)}
                    if DATETIME_RE.match(c.decided_at or ""):
                        cattrs["creationDateTime"] = c.decided_at
                    coding = ET.SubElement(sel, _q("Coding"), cattrs)
                    ET.SubElement(coding, _q("CodeRef"), {"targetGUID": guid("code", c.code_id)})
                counts["selections"] += 1
            if t.body:  # the case code covers the whole text
                sel = ET.SubElement(src, _q("PlainTextSelection"), {
                    "guid": guid("case-selection", t.id), "name": to_xml(_excerpt(t.body)), "startPosition": "0",
                    "endPosition": str(len(t.body)), "creatingUser": toolkit, "creationDateTime": now})
                coding = ET.SubElement(sel, _q("Coding"), {"guid": guid("case-coding", t.id), "creatingUser": toolkit,
                                                           "creationDateTime": now})
                ET.SubElement(coding, _q("CodeRef"), {"targetGUID": guid("case", t.id)})
            for k in keys:
                if t.attributes.get(k, ""):
                    _value(src, guid("file-variable", k), types[k], t.attributes[k])
    add_code_sets(root, cb, _q, member_attr="targetGUID")
    ET.SubElement(root, _q("Description")).text = (
        f"Exported by the {ORIGIN}. Positions count the code points of the texts in sources/ (UTF-8, LF line ends). "
        f"The code group '{CASE_GROUP}' has one code per transcript, coding its whole text. A selection description "
        "whose last line is [accepted], [quote] or [accepted, quote] records the status and quote flag of its codings.")
    ET.indent(root, space="  ")
    qde = xml_bytes(root)
    stamp = tuple(int(x) for x in re.findall(r"\d+", now)[:6])
    stamp = stamp if len(stamp) == 6 and stamp[0] >= 1980 else (1980, 1, 1, 0, 0, 0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name_, data in [("project.qde", qde), *files.items()]:
            z.writestr(zipfile.ZipInfo(name_, date_time=stamp), data, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue(), counts


def export_qdpx(p: Project, path: Path | str, *, coders: Sequence[str] | None = None) -> QdpxExport:
    """Write ``path`` (.qdpx) atomically; see the module docstring for what it holds."""
    path = Path(path)
    data, counts = build_qdpx(p, coders=coders)
    try:
        atomic_write_bytes(path, data)
    except OSError as e:
        raise ExchangeError(f"{path}: cannot write: {e.strerror or e}") from None
    return QdpxExport(path, counts["sources"], counts["codes"], counts["cases"], counts["selections"],
                      counts["codings"], counts["coders"])


# ---------------------------------------------------------------- reading any .qdpx
@dataclass(frozen=True)
class QSelection:
    guid: str
    start: int  # code points into the source's text, newlines normalised
    end: int
    text: str
    codes: tuple[tuple[str, str], ...]  # (code guid, user guid)
    user: str = ""
    created: str = ""
    memo: str = ""
    status: str | None = None  # from the Description's tag; None: not said
    quote: bool = False


@dataclass
class QSource:
    guid: str
    name: str
    text: str  # newlines normalised to \n, one BOM removed
    selections: list[QSelection] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    offsets: str = "codepoint"  # how the file counts positions (one of CONVENTIONS)


@dataclass(frozen=True)
class QCase:
    guid: str
    name: str
    description: str
    variables: Mapping[str, str]
    sources: tuple[str, ...]


@dataclass
class QdpxProject:
    name: str = ""
    origin: str = ""
    users: dict[str, str] = field(default_factory=dict)  # guid → name
    codes: dict[str, QCode] = field(default_factory=dict)  # guid → code (cases' codes left out)
    variables: dict[str, str] = field(default_factory=dict)  # guid → name
    cases: list[QCase] = field(default_factory=list)
    sources: list[QSource] = field(default_factory=list)
    offsets: str = "codepoint"
    warnings: list[str] = field(default_factory=list)


class _Archive:
    """A .qdpx opened for reading; :meth:`read` unpacks one member within the bounds."""

    def __init__(self, path: Path):
        self.path, self.total = path, 0
        try:
            self.z = zipfile.ZipFile(path)
        except FileNotFoundError:
            raise ExchangeError(f"{path}: not found") from None
        except (zipfile.BadZipFile, EOFError, ValueError):
            raise ExchangeError(f"{path}: not a .qdpx (zip) file") from None
        except OSError as e:
            raise ExchangeError(f"{path}: cannot read: {e.strerror or e}") from None
        locked = [i.filename for i in self.z.infolist() if i.flag_bits & 0x1]
        if locked:
            self.z.close()
            raise ExchangeError(f"{path}: member {locked[0]} is encrypted (a password-protected archive); "
                                "export the project again without a password")
        self.names = self.z.namelist()
        self.lower = {n.lower(): n for n in self.names}

    def __enter__(self) -> "_Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.z.close()

    def read(self, name: str) -> bytes:
        info = self.z.getinfo(name)
        if info.file_size > MAX_MEMBER:
            raise ExchangeError(f"{self.path}: member {name} would unpack to {info.file_size / 2**20:.1f} MiB, "
                                f"more than the {MAX_MEMBER // 2**20} MiB one member may have; refused")
        if self.total + info.file_size > MAX_TOTAL:
            raise ExchangeError(f"{self.path}: member {name}: the members read would unpack to more than "
                                f"{MAX_TOTAL // 2**20} MiB; refused")
        out = bytearray()
        try:
            with self.z.open(info) as f:
                while True:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    out += chunk
                    if len(out) > MAX_MEMBER:
                        raise ExchangeError(f"{self.path}: member {name} unpacks to more than "
                                            f"{MAX_MEMBER // 2**20} MiB; refused")
        except zipfile.BadZipFile as e:
            raise ExchangeError(f"{self.path}: member {name} is damaged ({e}); export the project again") from None
        except (zlib.error, EOFError, OSError) as e:
            raise ExchangeError(f"{self.path}: member {name} is damaged ({e}); export the project again") from None
        except NotImplementedError as e:
            raise ExchangeError(f"{self.path}: member {name} cannot be unpacked ({e})") from None
        except RuntimeError as e:  # e.g. a password needed though the flag did not say so
            raise ExchangeError(f"{self.path}: member {name} cannot be read ({e})") from None
        self.total += len(out)
        return bytes(out)

    def xml(self, name: str) -> ET.Element:
        try:
            return parse_xml(self.read(name))
        except XmlProblem as e:
            raise ExchangeError(f"{self.path}: {name}: {e}") from None


def _grandkids(root, name: str, child: str) -> list:
    el = kid(root, name)
    return [] if el is None else kids(el, child)


def _value_of(vv) -> tuple[str, str]:
    ref = kid(vv, "VariableRef")
    value = ""
    for c in vv:
        if local(c.tag).endswith("Value"):
            value = text_of(c).strip()
    return norm_guid(ref.get("targetGUID") if ref is not None else ""), value


class _Positions:
    """Maps positions as a program counted them to code points into the normalised text."""

    def __init__(self, raw: str):
        self.raw = raw
        self.norm = normalise_newlines(raw)
        self.crlf = "\r\n" in raw
        self._r2n: list[int] | None = None
        self._utf16: dict[bool, list[int | None]] = {}

    def _raw_to_norm(self) -> list[int]:
        if self._r2n is None:
            out, n, i, raw = [], 0, 0, self.raw
            while i < len(raw):
                out.append(n)
                if raw[i] == "\r" and i + 1 < len(raw) and raw[i + 1] == "\n":
                    out.append(n)
                    i += 2
                else:
                    i += 1
                n += 1
            out.append(n)
            self._r2n = out
        return self._r2n

    def _cp(self, how: str, pos: int) -> int | None:
        """The position as a code point into the raw text (or the normalised one, lines as one)."""
        one = how.endswith("lines-as-one")
        base = self.norm if one else self.raw
        if how.startswith("utf16"):
            table = self._utf16.get(one)
            if table is None:
                table = []
                for i, ch in enumerate(base):
                    table.append(i)
                    if ord(ch) > 0xFFFF:
                        table.append(None)  # the middle of a surrogate pair is no position
                table.append(len(base))
                self._utf16[one] = table
            if not 0 <= pos < len(table):
                return None
            pos = table[pos]
            if pos is None:
                return None
        return pos if 0 <= pos <= len(base) else None

    def convert(self, how: str, pos: int) -> int | None:
        """Code points into the normalised text, or None where ``how`` puts no position."""
        cp = self._cp(how, pos)
        if cp is None or how.endswith("lines-as-one") or not self.crlf:
            return cp
        return self._raw_to_norm()[cp]

    def splits_line_break(self, how: str, pos: int) -> bool:
        """Whether ``how`` puts the position between the CR and the LF of a line break."""
        if how.endswith("lines-as-one") or not self.crlf:
            return False
        cp = self._cp(how, pos)
        return cp is not None and 0 < cp < len(self.raw) and self.raw[cp - 1] == "\r" and self.raw[cp] == "\n"


def _name_matches(name: str, text: str) -> bool:
    name = re.sub(r"\s+", "", name).rstrip("…").rstrip(".")
    text = re.sub(r"\s+", "", text)
    return bool(name) and bool(text) and (text.startswith(name) or name.startswith(text))


@dataclass
class _Draft:
    """A text source read, its selections not yet placed."""

    source: QSource
    pos: _Positions
    sels: list[tuple[ET.Element, int, int]]


def read_qdpx(path: Path | str, *, offsets: Offsets = "auto") -> QdpxProject:
    """Parse a .qdpx (ours or another program's) into plain records; positions become code points
    into each source's normalised text. Problems raise :class:`ExchangeError` naming the file and
    the member or element."""
    path = Path(path)
    if offsets != "auto" and offsets not in CONVENTIONS:
        raise ExchangeError(f"offsets '{offsets}' is not one of auto, {', '.join(CONVENTIONS)}")
    with _Archive(path) as arc:
        qdes = [n for n in arc.names if n.lower().endswith(".qde") and "/" not in n.strip("/")]
        if not qdes:
            raise ExchangeError(f"{path}: no project.qde inside (found: {', '.join(arc.names[:5]) or 'nothing'})")
        qde = "project.qde" if "project.qde" in qdes else qdes[0]
        root = arc.xml(qde)
        if local(root.tag) != "Project":
            raise ExchangeError(f"{path}: {qde}: the root element is {local(root.tag)}, not Project")
        qp = QdpxProject(name=from_xml(root.get("name", "")), origin=root.get("origin", ""))
        for u in _grandkids(root, "Users", "User"):
            qp.users[norm_guid(u.get("guid"))] = from_xml(u.get("name") or u.get("id") or "")
        book = kid(root, "CodeBook")
        codes_el = kid(book, "Codes") if book is not None else None
        if codes_el is not None:
            qp.codes = read_codes(codes_el, f"{path}: {qde}")
        for v in _grandkids(root, "Variables", "Variable"):
            qp.variables[norm_guid(v.get("guid"))] = from_xml(v.get("name", ""))
        for c in _grandkids(root, "Cases", "Case"):
            vals = {}
            for vv in kids(c, "VariableValue"):
                g, value = _value_of(vv)
                vals[qp.variables.get(g, g)] = value
            qp.cases.append(QCase(norm_guid(c.get("guid")), from_xml(c.get("name") or ""), text_of(kid(c, "Description")),
                                  vals, tuple(norm_guid(s.get("targetGUID")) for s in kids(c, "SourceRef"))))
        drafts = [_read_text_source(path, qde, arc, s, qp) for s in _grandkids(root, "Sources", "TextSource")]
    qp.offsets, qp.warnings = _choose_offsets(path, drafts, offsets, qp.origin)
    # NVivo writes a case as a code with the case's GUID too, coding the case's texts
    case_guids = {c.guid for c in qp.cases}
    linked: dict[str, list[str]] = {}
    for d in drafts:
        d.source.offsets = qp.offsets
        for sel, a, b in d.sels:
            x, y = d.pos.convert(qp.offsets, a), d.pos.convert(qp.offsets, b)
            where = f"{path}: {qde}: TextSource '{d.source.name}'"
            if x is None or y is None or y < x:
                raise ExchangeError(f"{where}: PlainTextSelection {sel.get('guid')}: positions {a}..{b} are outside its "
                                    f"text ({len(d.pos.raw)} characters) when counted as {SAYS[qp.offsets]}")
            codings = []
            for c in kids(sel, "Coding"):
                ref = kid(c, "CodeRef")
                if ref is None:
                    raise ExchangeError(f"{where}: PlainTextSelection {sel.get('guid')}: a Coding without CodeRef")
                code_guid = norm_guid(ref.get("targetGUID"))
                if code_guid in case_guids:
                    linked.setdefault(code_guid, []).append(d.source.guid)
                    continue
                codings.append((code_guid, norm_guid(c.get("creatingUser") or sel.get("creatingUser"))))
            if not codings:
                continue
            memo, status, quote = read_flags(text_of(kid(sel, "Description")))
            d.source.selections.append(QSelection(norm_guid(sel.get("guid")), x, y, d.pos.norm[x:y], tuple(codings),
                                                  norm_guid(sel.get("creatingUser")), sel.get("creationDateTime") or "",
                                                  memo, status, quote))
        qp.sources.append(d.source)
    for g in case_guids:
        qp.codes.pop(g, None)
    qp.cases = [replace(c, sources=c.sources + tuple(s for s in linked.get(c.guid, []) if s not in c.sources))
                for c in qp.cases]
    # MAXQDA and Quirkos hang a source's variables on a nameless case with one SourceRef
    by_guid = {s.guid: s for s in qp.sources}
    for case in qp.cases:
        if not case.name and len(case.sources) == 1 and case.sources[0] in by_guid:
            by_guid[case.sources[0]].variables.update(case.variables)
    return qp


def _read_text_source(path: Path, qde: str, arc: _Archive, s, qp: QdpxProject) -> _Draft:
    sg = norm_guid(s.get("guid"))
    name = from_xml(s.get("name") or sg)
    where = f"{path}: {qde}: TextSource '{name}'"
    content = kid(s, "PlainTextContent")
    if content is not None and content.text is not None:
        raw = content.text
    else:
        ref = s.get("plainTextPath") or ""
        if not ref.startswith("internal://"):
            raise ExchangeError(f"{where}: plainTextPath '{ref}' is not inside the file (internal://...); "
                                "export the project with its sources included")
        inner = ref[len("internal://"):].lstrip("/")
        member = next((arc.lower[k] for k in (f"sources/{inner}".lower(), inner.lower()) if k in arc.lower), None)
        if member is None:
            raise ExchangeError(f"{where}: its text sources/{inner} is missing from the file")
        data = arc.read(member)
        try:
            raw = data.decode("utf-8-sig")  # one BOM is an encoding mark; a second would be text
        except UnicodeDecodeError:
            try:
                raw = data.decode("utf-16")
            except UnicodeDecodeError:
                raise ExchangeError(f"{path}: member {member} (the text of '{name}') is not UTF-8 text") from None
    src = QSource(sg, name, normalise_newlines(raw))
    for vv in kids(s, "VariableValue"):
        g, value = _value_of(vv)
        var = qp.variables.get(g, g)
        src.variables[var[: -len(FILE_VARIABLE)] if var.endswith(FILE_VARIABLE) else var] = value
    sels = []
    for sel in kids(s, "PlainTextSelection"):
        try:
            a, b = int(sel.get("startPosition")), int(sel.get("endPosition"))
        except (TypeError, ValueError):
            raise ExchangeError(f"{where}: PlainTextSelection {sel.get('guid')}: startPosition/endPosition must be integers") from None
        sels.append((sel, a, b))
    return _Draft(src, _Positions(raw), sels)


@dataclass
class _Reading:
    impossible: str = ""  # the first selection it cannot place
    splits: int = 0  # boundaries between CR and LF
    named: int = 0
    matched: int = 0
    mismatched: list[str] = field(default_factory=list)
    spans: list[tuple[int, int] | None] = field(default_factory=list)


def _choose_offsets(path: Path, drafts: list[_Draft], offsets: str, origin: str) -> tuple[str, list[str]]:
    """The convention the file's positions follow (see the module docstring), and warnings."""
    hows = CONVENTIONS if offsets == "auto" else (offsets,)
    readings: dict[str, _Reading] = {}
    for how in hows:
        r = readings[how] = _Reading()
        for d in drafts:
            for sel, a, b in d.sels:
                x, y = d.pos.convert(how, a), d.pos.convert(how, b)
                if x is None or y is None or y < x:
                    r.impossible = r.impossible or f"selection {sel.get('guid')} ({a}..{b}) in '{d.source.name}'"
                    r.spans.append(None)
                    continue
                r.splits += d.pos.splits_line_break(how, a) + d.pos.splits_line_break(how, b)
                r.spans.append((x, y))
                name = from_xml(sel.get("name") or "")
                if name.strip():
                    r.named += 1
                    if _name_matches(name, d.pos.norm[x:y]):
                        r.matched += 1
                    elif len(r.mismatched) < 3:
                        r.mismatched.append(f"'{name[:20]}' at {a}..{b} in '{d.source.name}'")
    if offsets != "auto":
        return offsets, _mismatch_warnings(path, readings[offsets], offsets)
    viable = [h for h in hows if not readings[h].impossible and not readings[h].splits]
    if not viable:
        first = readings["codepoint"]
        what = first.impossible or "a selection boundary between the CR and the LF of a line break"
        raise ExchangeError(f"{path}: no way of counting positions fits its selections ({what}); "
                            f"give --offsets ({', '.join(CONVENTIONS)})")
    best = max(readings[h].matched for h in viable)
    tied = [h for h in viable if readings[h].matched == best]
    options: list[str] = []  # one per distinct reading
    for h in tied:
        if all(readings[h].spans != readings[o].spans for o in options):
            options.append(h)
    if len(options) > 1:
        example = _example(drafts, readings, options)
        hint = next((f" ({said}: --offsets {how})" for key, (said, how) in HABITS.items()
                     if key in origin.lower() and how in tied), "")
        n = sum(1 for i, s in enumerate(readings[options[0]].spans)
                if any(readings[h].spans[i] != s for h in options[1:]))
        raise ExchangeError(
            f"{path}: cannot tell how it counts text positions "
            f"({'no selection names its text' if not best else 'the selection names fit several ways'}): "
            f"{' / '.join(SAYS[h] for h in options)} give different text for {n} of {len(readings[options[0]].spans)} "
            f"selection(s), e.g. {example}; give --offsets {' or --offsets '.join(options)}{hint}")
    return tied[0], _mismatch_warnings(path, readings[tied[0]], tied[0])


def _example(drafts: list[_Draft], readings: dict[str, _Reading], options: list[str]) -> str:
    i = 0
    for d in drafts:
        for sel, _, _ in d.sels:
            spans = [readings[h].spans[i] for h in options]
            if len(set(spans)) > 1:
                texts = " or ".join(f"「{d.pos.norm[s[0]:s[1]][:15]}」" for s in spans if s)
                return f"selection {sel.get('guid')} in '{d.source.name}' is {texts}"
            i += 1
    return ""


def _mismatch_warnings(path: Path, r: _Reading, how: str) -> list[str]:
    if not r.named or r.matched == r.named:
        return []
    return [f"{path}: {r.named - r.matched} of {r.named} selection name(s) differ from the text they select when positions "
            f"count {SAYS[how]} (renamed quotations?), e.g. {'; '.join(r.mismatched)}"]


# ---------------------------------------------------------------- import into a project
@dataclass
class QdpxImport:
    rows: list[Coding] = field(default_factory=list)
    by_coder: dict[str, int] = field(default_factory=dict)
    matched_sources: dict[str, str] = field(default_factory=dict)  # source name → transcript id
    skipped: list[str] = field(default_factory=list)  # what --skip-unknown left out
    warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    offsets: str = "codepoint"


def _match_source(src: QSource, cases: Sequence[QCase], transcripts: Mapping[str, Transcript]) -> tuple[str | None, int | None]:
    """The transcript a source is, and the shift from source to body offsets (None: by text)."""
    names = {src.name, Path(src.name).stem}
    names |= {c.name for c in cases if src.guid in c.sources and c.name}
    tid = next((n for n in sorted(names) if n in transcripts), None)
    if tid is None:
        tid = next((t.id for t in transcripts.values() if t.path.name in names or t.path.stem in names), None)
    if tid is None:
        tid = next((t.id for t in transcripts.values() if t.body and (t.body == src.text or t.body in src.text)), None)
    if tid is None:
        return None, None
    body = transcripts[tid].body
    if src.text == body:
        return tid, 0
    if body and body in src.text:
        return tid, -src.text.index(body)
    if src.text and src.text in body:
        return tid, body.index(src.text)
    return tid, None


def _coder_name(name: str) -> str:
    out = re.sub(r"[\s/\\:*?\"<>|]+", "_", name.strip()).strip("_")
    return out if out and out != AUTO else "qdpx"


def plan_import(p: Project, path: Path | str, *, coder: str | None = None, offsets: Offsets = "auto",
                skip_unknown: bool = False) -> QdpxImport:
    """Codings of a .qdpx as decisions for this project, without writing anything.

    Each selection's codes become decisions of ``coder``, or of the program's user who made them:
    with the status its Description's tag says, else ``accepted`` where the tagger suggested the
    same span and code and ``manual`` elsewhere; quote flag and memo as the Description says.
    Sources are matched to transcripts by name (transcript id or file name, or the case they
    belong to) or by text; codes by GUID or name. Anything that cannot be mapped refuses the
    whole import, listing every problem, unless ``skip_unknown``.
    """
    qp = read_qdpx(path, offsets=offsets)
    cb = p.codebook
    transcripts = p.by_id
    sugg = {s.key for s in p.store().suggestions}
    res = QdpxImport(warnings=list(qp.warnings), offsets=qp.offsets)
    problems: list[str] = []
    index = guid_index(cb)
    code_ids: dict[str, str | None] = {g: map_code(c.name, cb, code_guid=g, index=index) if c.codable else None
                                       for g, c in qp.codes.items()}
    for g, c in qp.codes.items():
        if c.codable and code_ids[g] is None:
            used = sum(1 for s in qp.sources for sel in s.selections for cg, _ in sel.codes if cg == g)
            if used:
                msg = f"{path}: code '{c.name}' ({used} coding(s)) matches no code of {cb.path.name}; add it there or rename it"
                (res.skipped if skip_unknown else problems).append(msg)
    for src in qp.sources:
        tid, shift = _match_source(src, qp.cases, transcripts)
        if tid is None:
            if src.selections:
                msg = f"{path}: source '{src.name}' matches no transcript (by id, file name or text)"
                (res.skipped if skip_unknown else problems).append(msg)
            continue
        res.matched_sources[src.name] = tid
        t = transcripts[tid]
        attrs = dict(t.attributes)
        case_vars = dict(src.variables)
        for case in qp.cases:
            if src.guid in case.sources and case.name:
                case_vars.update(case.variables)
        for k, v in case_vars.items():
            if k in attrs and attrs[k] != v:
                res.warnings.append(f"{tid}: variable '{k}' is '{v}' in the file but '{attrs[k]}' in the transcript "
                                    "(transcripts are not changed)")
        for sel in src.selections:
            if shift is not None and 0 <= sel.start + shift <= sel.end + shift <= len(t.body) \
                    and t.body[sel.start + shift:sel.end + shift] == sel.text:
                start, end = sel.start + shift, sel.end + shift
            else:
                probe = reanchor(Coding(tid, sel.start, sel.end, sel.text, "", "manual", "x"), t)
                if probe.anchor == "stale" or not sel.text:
                    problems.append(f"{path}: source '{src.name}' selection {sel.guid} ({sel.start}..{sel.end}): "
                                    f"its text '{sel.text[:30]}' is not in transcript {tid}")
                    continue
                start, end = probe.start, probe.end
            for code_guid, user_guid in sel.codes:
                cid = code_ids.get(code_guid)
                if cid is None:
                    if code_guid not in qp.codes:
                        problems.append(f"{path}: selection {sel.guid}: CodeRef {code_guid} names no Code")
                    continue
                who = coder or _coder_name(qp.users.get(user_guid) or qp.users.get(sel.user) or "qdpx")
                status = sel.status or ("accepted" if (tid, start, end, cid) in sugg else "manual")
                created = sel.created if re.match(r"^\d{4}-\d{2}-\d{2}T", sel.created or "") else ""
                res.rows.append(Coding(tid, start, end, t.body[start:end], cid, status, who, quote=sel.quote,
                                       memo=sel.memo, decided_at=created))
    if problems:
        raise ExchangeError(f"{path}: {len(problems)} problem(s); nothing was imported", problems)
    for r in res.rows:
        res.by_coder[r.coder] = res.by_coder.get(r.coder, 0) + 1
    return res


def import_qdpx(p: Project, path: Path | str, *, coder: str | None = None, offsets: Offsets = "auto",
                skip_unknown: bool = False) -> QdpxImport:
    """Merge a .qdpx's codings into the decisions: one file per coder, all written or none."""
    if coder is not None:
        check_coder(coder)
    res = plan_import(p, path, coder=coder, offsets=offsets, skip_unknown=skip_unknown)
    for c in res.by_coder:
        if not CODER_RE.match(c):
            raise ExchangeError(f"{path}: user name '{c}' cannot be a coder name; use --coder")
    coders = sorted(res.by_coder)
    targets = [codings_dir(p.root) / f"{c}.csv" for c in coders]
    writing = targets[0] if targets else None
    try:
        with all_or_nothing(targets):
            for c, writing in zip(coders, targets):
                rows = [r for r in res.rows if r.coder == c]
                res.files.append(record_decisions(p.root, c, rows, p.by_id, p.codebook.effective_ref).path)
    except OSError as e:
        res.files = []
        raise ExchangeError(f"{writing}: cannot write: {e.strerror or e}; nothing was imported") from None
    return res
