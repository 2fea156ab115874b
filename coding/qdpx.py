"""REFI-QDA project exchange (``.qdpx``): export the project for NVivo, ATLAS.ti, MAXQDA and friends,
and import codings made there.

A ``.qdpx`` is a zip holding ``project.qde`` (XML in the namespace ``urn:QDA-XML:project:1.0``,
the REFI-QDA Project schema of 2019) and ``sources/`` with each source's plain text. We write:

- ``Users``: one per coder whose codings are exported;
- ``CodeBook``: the codebook's hierarchy as nested ``Code`` elements (groups ``isCodable="false"``),
  named ``"<id> <label>"`` with the definition as ``Description``;
- ``Variables`` and ``Cases``: one case per transcript (its id), with every front-matter attribute
  as a variable value and a ``SourceRef`` to its text;
- ``Sources``: one ``TextSource`` per transcript, its body as UTF-8 in ``sources/<guid>.txt``; every
  confirmed coding (accepted + manual) as a ``PlainTextSelection`` (code-point offsets into the
  body, end exclusive) holding a ``Coding`` → ``CodeRef``, one selection per span and coder.

GUIDs are UUID5s of what they identify, so exporting twice gives the same file.

Import reads our files and those shaped as other programs write them: the ``.qde`` may be named
after the project, the folder ``Sources/`` or ``sources/``, GUIDs may carry braces, text may start
with a BOM and use CRLF, variables may sit on a nameless case with one ``SourceRef`` (MAXQDA) or on
the source. Codes are mapped to the codebook by name (id, label, or ``"<id> <label>"``). Offsets
should be code points into the text file (as the standard says); some programs count UTF-16 units
or a line break as one character, so when a selection's ``name`` carries its text the reading that
reproduces it is chosen (``offsets="auto"``).
"""
from __future__ import annotations

import io
import re
import unicodedata
import uuid
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, Mapping, Sequence

from .errors import CodingError
from .files import atomic_write_bytes
from .project import Project
from .store import AUTO, CODER_RE, Coding, check_coder, reanchor, record_decisions
from .transcripts import Transcript, normalise_newlines

NS = "urn:QDA-XML:project:1.0"
GUID_NS = uuid.UUID("6f1c5a4e-3b7d-5e2a-9c1d-8e4f2a6b0c93")
ORIGIN = "hearing-survey coding toolkit"
KIND_COLORS = {"group": "#BAB0AC", "phase": "#4E79A7", "theme": "#F28E2B", "finding": "#E15759",
               "challenge": "#76B7B2", "practice": "#59A14F", "case": "#EDC948"}
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
Offsets = Literal["auto", "codepoint", "utf16"]


class QdpxError(CodingError):
    """A .qdpx file cannot be read, or its codings cannot be mapped onto the project."""


def guid(*parts: str) -> str:
    return str(uuid.uuid5(GUID_NS, "\x1f".join(parts)))


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


# ---------------------------------------------------------------- export
@dataclass
class QdpxExport:
    path: Path
    sources: int = 0
    codes: int = 0
    cases: int = 0
    selections: int = 0
    codings: int = 0
    coders: list[str] = field(default_factory=list)


def code_name(code) -> str:
    """The name another program shows: ``"<id> <label>"`` (just the id when the label repeats it)."""
    return code.id if not code.label or code.label == code.id else f"{code.id} {code.label}"


def build_qdpx(p: Project, *, coders: Sequence[str] | None = None, name: str | None = None,
               now: str | None = None) -> tuple[bytes, dict]:
    """The .qdpx bytes of project ``p`` and counts; confirmed codings of ``coders`` (all people
    when None) become selections."""
    now = now or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    cb = p.codebook
    codings = [c for c in p.store().resolved(p.by_id, coders=coders) if c.code_id in cb.codes]
    people = sorted({c.coder for c in codings})
    project_name = name or str(cb.settings.title or Path(p.root).resolve().name)
    ET.register_namespace("", NS)
    root = ET.Element(_q("Project"), {"name": project_name, "origin": ORIGIN, "creationDateTime": now})
    if people:
        root.set("creatingUserGUID", guid("user", people[0]))
        users = ET.SubElement(root, _q("Users"))
        for c in people:
            ET.SubElement(users, _q("User"), {"guid": guid("user", c), "name": c, "id": c})
    # codebook: parents before children, as nested elements
    code_book = ET.SubElement(root, _q("CodeBook"))
    codes_el = ET.SubElement(code_book, _q("Codes"))
    children: dict[str | None, list] = {}
    for c in cb.codes.values():
        parent = c.parent if c.parent in cb.codes else None
        children.setdefault(parent, []).append(c)
    seen: set[str] = set()

    def add_code(parent_el, c) -> None:
        if c.id in seen:  # a cycle would be a codebook error; never loop on it
            return
        seen.add(c.id)
        el = ET.SubElement(parent_el, _q("Code"), {
            "guid": guid("code", c.id), "name": code_name(c), "isCodable": "true" if c.codable else "false",
            "color": KIND_COLORS.get(c.kind, "#888888"),
        })
        desc = c.definition or c.label
        if desc:
            ET.SubElement(el, _q("Description")).text = desc
        for child in children.get(c.id, []):
            add_code(el, child)

    for c in children.get(None, []):
        add_code(codes_el, c)
    # variables: every front-matter key but the id
    keys: list[str] = []
    for t in p.transcripts:
        for k in t.attributes:
            if k != "id" and k not in keys:
                keys.append(k)
    types = {k: "Date" if all(DATE_RE.match(t.attributes[k]) for t in p.transcripts if t.attributes.get(k)) else "Text"
             for k in keys}
    if keys:
        variables = ET.SubElement(root, _q("Variables"))
        for k in keys:
            ET.SubElement(variables, _q("Variable"), {"guid": guid("variable", k), "name": k, "typeOfVariable": types[k]})
    if p.transcripts:
        cases = ET.SubElement(root, _q("Cases"))
        for t in p.transcripts:
            case = ET.SubElement(cases, _q("Case"), {"guid": guid("case", t.id), "name": t.id})
            if t.attributes.get("org"):
                ET.SubElement(case, _q("Description")).text = t.attributes["org"]
            for k in keys:
                v = t.attributes.get(k, "")
                if v == "":
                    continue
                vv = ET.SubElement(case, _q("VariableValue"))
                ET.SubElement(vv, _q("VariableRef"), {"targetGUID": guid("variable", k)})
                ET.SubElement(vv, _q("DateValue" if types[k] == "Date" else "TextValue")).text = v
            ET.SubElement(case, _q("SourceRef"), {"targetGUID": guid("source", t.id)})
    files: dict[str, bytes] = {}
    counts = {"sources": 0, "codes": len(seen), "cases": len(p.transcripts), "selections": 0, "codings": len(codings),
              "coders": people}
    if p.transcripts:
        sources = ET.SubElement(root, _q("Sources"))
        # one selection per span, coder and memo: a selection's Description is the memo of all its codings
        by_span: dict[tuple[str, int, int, str, str], list[Coding]] = {}
        for c in codings:
            by_span.setdefault((c.transcript_id, c.start, c.end, c.coder, c.memo), []).append(c)
        for t in p.transcripts:
            sg = guid("source", t.id)
            attrs = {"guid": sg, "name": t.id, "plainTextPath": f"internal://{sg}.txt", "creationDateTime": now}
            src = ET.SubElement(sources, _q("TextSource"), attrs)
            ET.SubElement(src, _q("Description")).text = f"{t.attributes.get('org', '')} ({t.path.name})".strip()
            files[f"sources/{sg}.txt"] = t.body.encode("utf-8")
            counts["sources"] += 1
            for (tid, start, end, coder, memo), group in sorted(by_span.items()):
                if tid != t.id:
                    continue
                text = t.body[start:end]
                sel_attrs = {"guid": guid("selection", tid, str(start), str(end), coder, memo),
                             "name": text if len(text) <= 60 else text[:60] + "…",
                             "startPosition": str(start), "endPosition": str(end), "creatingUser": guid("user", coder)}
                first = min((c.decided_at for c in group if DATETIME_RE.match(c.decided_at or "")), default="")
                if first:
                    sel_attrs["creationDateTime"] = first
                sel = ET.SubElement(src, _q("PlainTextSelection"), sel_attrs)
                if memo:
                    ET.SubElement(sel, _q("Description")).text = memo
                for c in sorted(group, key=lambda c: c.code_id):
                    cattrs = {"guid": guid("coding", tid, str(start), str(end), c.code_id, coder),
                              "creatingUser": guid("user", coder)}
                    if DATETIME_RE.match(c.decided_at or ""):
                        cattrs["creationDateTime"] = c.decided_at
                    coding = ET.SubElement(sel, _q("Coding"), cattrs)
                    ET.SubElement(coding, _q("CodeRef"), {"targetGUID": guid("code", c.code_id)})
                counts["selections"] += 1
    ET.indent(root, space="  ")
    qde = ET.tostring(root, encoding="utf-8", xml_declaration=True)
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
    atomic_write_bytes(path, data)
    return QdpxExport(path, counts["sources"], counts["codes"], counts["cases"], counts["selections"],
                      counts["codings"], counts["coders"])


# ---------------------------------------------------------------- reading any .qdpx
@dataclass(frozen=True)
class QCode:
    guid: str
    name: str
    codable: bool
    parent: str | None
    description: str = ""


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


@dataclass
class QSource:
    guid: str
    name: str
    text: str  # newlines normalised to \n, BOM removed
    selections: list[QSelection] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    offsets: str = "codepoint"  # how the positions were read: codepoint | utf16, + "/lines-as-one"


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
    codes: dict[str, QCode] = field(default_factory=dict)  # guid → code
    variables: dict[str, str] = field(default_factory=dict)  # guid → name
    cases: list[QCase] = field(default_factory=list)
    sources: list[QSource] = field(default_factory=list)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _norm_guid(g: str | None) -> str:
    return (g or "").strip().strip("{}").lower()


def _kids(el, name: str):
    return [c for c in el if _local(c.tag) == name]


def _kid(el, name: str):
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _text_of(el) -> str:
    return "" if el is None or el.text is None else el.text


def _value(vv) -> tuple[str, str]:
    ref = _kid(vv, "VariableRef")
    value = ""
    for c in vv:
        if _local(c.tag).endswith("Value"):
            value = _text_of(c).strip()
    return _norm_guid(ref.get("targetGUID") if ref is not None else ""), value


class _Positions:
    """Maps positions as another program counted them to code points into the normalised text."""

    def __init__(self, raw: str):
        self.raw = raw
        self.norm = normalise_newlines(raw)
        # raw code point → normalised code point
        self.r2n = []
        n = 0
        i = 0
        while i < len(raw):
            self.r2n.append(n)
            if raw[i] == "\r" and i + 1 < len(raw) and raw[i + 1] == "\n":
                self.r2n.append(n)
                i += 2
            else:
                i += 1
            n += 1
        self.r2n.append(n)
        self._tables: dict[int, list[int | None]] = {}

    @staticmethod
    def _utf16_to_cp(text: str) -> list[int | None]:
        out: list[int | None] = []
        for i, ch in enumerate(text):
            out.append(i)
            if ord(ch) > 0xFFFF:
                out.append(None)  # the middle of a surrogate pair is no position
        out.append(len(text))
        return out

    def candidates(self) -> list[str]:
        out = ["codepoint"]
        if "\r\n" in self.raw:
            out.append("codepoint/lines-as-one")
        if any(ord(ch) > 0xFFFF for ch in self.raw):
            out.append("utf16")
            if "\r\n" in self.raw:
                out.append("utf16/lines-as-one")
        return out

    def convert(self, how: str, pos: int) -> int | None:
        base = self.norm if how.endswith("lines-as-one") else self.raw
        if how.startswith("utf16"):
            table = self._tables.get(id(base))
            if table is None:
                table = self._tables[id(base)] = self._utf16_to_cp(base)
            if not 0 <= pos < len(table) or table[pos] is None:
                return None
            pos = table[pos]
        if not 0 <= pos <= len(base):
            return None
        return pos if base is self.norm else self.r2n[pos]


def _name_matches(name: str, text: str) -> bool:
    name = re.sub(r"\s+", "", name).rstrip("…").rstrip(".")
    text = re.sub(r"\s+", "", text)
    return bool(name) and (text.startswith(name) or name.startswith(text))


def read_qdpx(path: Path | str, *, offsets: Offsets = "auto") -> QdpxProject:
    """Parse a .qdpx (ours or another program's) into plain records; positions become code points
    into each source's normalised text. Structural problems raise :class:`QdpxError` naming the
    file and the element."""
    path = Path(path)
    try:
        z = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise QdpxError(f"{path}: not found") from None
    except zipfile.BadZipFile:
        raise QdpxError(f"{path}: not a .qdpx (zip) file") from None
    with z:
        names = z.namelist()
        qdes = [n for n in names if n.lower().endswith(".qde") and "/" not in n.strip("/")]
        if not qdes:
            raise QdpxError(f"{path}: no project.qde inside (found: {', '.join(names[:5]) or 'nothing'})")
        qde = "project.qde" if "project.qde" in qdes else qdes[0]
        try:
            root = ET.fromstring(z.read(qde))
        except ET.ParseError as e:
            raise QdpxError(f"{path}: {qde}: not well-formed XML: {e}") from None
        if _local(root.tag) != "Project":
            raise QdpxError(f"{path}: {qde}: the root element is {_local(root.tag)}, not Project")
        lower = {n.lower(): n for n in names}
        qp = QdpxProject(name=root.get("name", ""), origin=root.get("origin", ""))
        users = _kid(root, "Users")
        for u in (users if users is not None else []):
            qp.users[_norm_guid(u.get("guid"))] = u.get("name") or u.get("id") or ""
        book = _kid(root, "CodeBook")
        codes_el = _kid(book, "Codes") if book is not None else None

        def walk(el, parent):
            for c in _kids(el, "Code"):
                g = _norm_guid(c.get("guid"))
                if not g or c.get("name") is None:
                    raise QdpxError(f"{path}: {qde}: a Code without guid or name (parent {parent or 'none'})")
                codable = (c.get("isCodable") or "true").strip().lower() in ("true", "1")
                qp.codes[g] = QCode(g, c.get("name"), codable, parent, _text_of(_kid(c, "Description")))
                walk(c, g)

        if codes_el is not None:
            walk(codes_el, None)
        variables = _kid(root, "Variables")
        for v in (variables if variables is not None else []):
            qp.variables[_norm_guid(v.get("guid"))] = v.get("name", "")
        cases = _kid(root, "Cases")
        for c in (cases if cases is not None else []):
            vals = {}
            for vv in _kids(c, "VariableValue"):
                g, value = _value(vv)
                vals[qp.variables.get(g, g)] = value
            qp.cases.append(QCase(_norm_guid(c.get("guid")), c.get("name") or "", _text_of(_kid(c, "Description")),
                                  vals, tuple(_norm_guid(s.get("targetGUID")) for s in _kids(c, "SourceRef"))))
        sources = _kid(root, "Sources")
        for s in (sources if sources is not None else []):
            if _local(s.tag) != "TextSource":
                continue
            qp.sources.append(_read_text_source(path, qde, z, lower, s, qp, offsets))
    # MAXQDA and Quirkos hang a source's variables on a nameless case with one SourceRef
    by_guid = {s.guid: s for s in qp.sources}
    for case in qp.cases:
        if not case.name and len(case.sources) == 1 and case.sources[0] in by_guid:
            by_guid[case.sources[0]].variables.update(case.variables)
    return qp


def _read_text_source(path, qde, z, lower, s, qp: QdpxProject, offsets: Offsets) -> QSource:
    sg = _norm_guid(s.get("guid"))
    name = s.get("name") or sg
    where = f"{path}: {qde}: TextSource '{name}'"
    content = _kid(s, "PlainTextContent")
    if content is not None and content.text is not None:
        raw = content.text
    else:
        ref = s.get("plainTextPath") or ""
        if not ref.startswith("internal://"):
            raise QdpxError(f"{where}: plainTextPath '{ref}' is not inside the file (internal://...); "
                            "export the project with its sources included")
        inner = ref[len("internal://"):].lstrip("/")
        member = next((lower[k] for k in (f"sources/{inner}".lower(), inner.lower()) if k in lower), None)
        if member is None:
            raise QdpxError(f"{where}: its text sources/{inner} is missing from the file")
        data = z.read(member)
        try:
            raw = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                raw = data.decode("utf-16")
            except UnicodeDecodeError:
                raise QdpxError(f"{where}: {member} is not UTF-8 text") from None
    raw = raw.lstrip("\ufeff")
    pos = _Positions(raw)
    src = QSource(sg, name, pos.norm)
    for vv in _kids(s, "VariableValue"):
        g, value = _value(vv)
        src.variables[qp.variables.get(g, g)] = value
    sels = []
    for sel in _kids(s, "PlainTextSelection"):
        try:
            a, b = int(sel.get("startPosition")), int(sel.get("endPosition"))
        except (TypeError, ValueError):
            raise QdpxError(f"{where}: PlainTextSelection {sel.get('guid')}: startPosition/endPosition must be integers") from None
        sels.append((sel, a, b))
    # choose how the positions were counted: the reading that reproduces the selections' names
    hows = pos.candidates() if offsets == "auto" else [h for h in pos.candidates() if h.startswith(offsets)] or [offsets]
    best, best_score = hows[0], None
    for how in hows:
        score = 0
        for sel, a, b in sels:
            x, y = pos.convert(how, a), pos.convert(how, b)
            if x is None or y is None or y < x:
                score -= 1000
            elif sel.get("name") and _name_matches(sel.get("name"), pos.norm[x:y]):
                score += 1
        if best_score is None or score > best_score:
            best, best_score = how, score
    src.offsets = best
    for sel, a, b in sels:
        x, y = pos.convert(best, a), pos.convert(best, b)
        if x is None or y is None or y < x:
            raise QdpxError(f"{where}: PlainTextSelection {sel.get('guid')}: positions {a}..{b} are outside its "
                            f"text ({len(pos.raw)} characters)")
        codings = []
        for c in _kids(sel, "Coding"):
            ref = _kid(c, "CodeRef")
            if ref is None:
                raise QdpxError(f"{where}: PlainTextSelection {sel.get('guid')}: a Coding without CodeRef")
            codings.append((_norm_guid(ref.get("targetGUID")), _norm_guid(c.get("creatingUser") or sel.get("creatingUser"))))
        src.selections.append(QSelection(_norm_guid(sel.get("guid")), x, y, pos.norm[x:y], tuple(codings),
                                         _norm_guid(sel.get("creatingUser")), sel.get("creationDateTime") or "",
                                         _text_of(_kid(sel, "Description"))))
    return src


# ---------------------------------------------------------------- import into a project
@dataclass
class QdpxImport:
    rows: list[Coding] = field(default_factory=list)
    by_coder: dict[str, int] = field(default_factory=dict)
    matched_sources: dict[str, str] = field(default_factory=dict)  # source name → transcript id
    skipped: list[str] = field(default_factory=list)  # what --skip-unknown left out
    warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def _fold(s: str) -> str:
    return unicodedata.normalize("NFKC", s).strip().casefold()


def map_code(name: str, codebook) -> str | None:
    """The codebook code a code name from another program stands for, or None."""
    codes = codebook.codes
    if name in codes:
        return name
    folded = _fold(name)
    for c in codes.values():
        if folded in (_fold(c.id), _fold(code_name(c))):
            return c.id
    labels = [c.id for c in codes.values() if c.label and _fold(c.label) == folded]
    if len(labels) == 1:
        return labels[0]
    for sep in ("::", "\\", " > "):  # a path written into the name: keep the last part
        if sep in name:
            return map_code(name.rsplit(sep, 1)[-1], codebook)
    m = re.match(r"^(\S+)\s*[:：]?\s+", name)  # "<id> <anything>"
    if m and m.group(1) in codes:
        return m.group(1)
    return None


def _match_source(src: QSource, cases: Sequence[QCase], transcripts: Mapping[str, Transcript]) -> tuple[str | None, int | None]:
    """The transcript a source is, and the shift from source to body offsets (None: by text)."""
    names = {src.name, Path(src.name).stem}
    names |= {c.name for c in cases if src.guid in c.sources and c.name}
    tid = next((n for n in names if n in transcripts), None)
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

    Each selection's codes become ``manual`` decisions (``accepted`` where the tagger suggested the
    same span and code) of ``coder``, or of the program's user who made them. Sources are matched
    to transcripts by name (transcript id or file name, or the case they belong to) or by text;
    codes by name. Anything that cannot be mapped refuses the whole import, listing every
    problem, unless ``skip_unknown``.
    """
    qp = read_qdpx(path, offsets=offsets)
    cb = p.codebook
    transcripts = p.by_id
    sugg = {s.key for s in p.store().suggestions}
    res = QdpxImport()
    problems: list[str] = []
    code_ids: dict[str, str | None] = {g: map_code(c.name, cb) if c.codable else None for g, c in qp.codes.items()}
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
                status = "accepted" if (tid, start, end, cid) in sugg else "manual"
                created = sel.created if re.match(r"^\d{4}-\d{2}-\d{2}T", sel.created or "") else ""
                res.rows.append(Coding(tid, start, end, t.body[start:end], cid, status, who, memo=sel.memo,
                                       decided_at=created))
    if problems:
        raise QdpxError(f"{path}: {len(problems)} problem(s); nothing was imported", problems)
    for r in res.rows:
        res.by_coder[r.coder] = res.by_coder.get(r.coder, 0) + 1
    return res


def import_qdpx(p: Project, path: Path | str, *, coder: str | None = None, offsets: Offsets = "auto",
                skip_unknown: bool = False) -> QdpxImport:
    """Merge a .qdpx's codings into the decisions (one file per coder, written atomically)."""
    if coder is not None:
        check_coder(coder)
    res = plan_import(p, path, coder=coder, offsets=offsets, skip_unknown=skip_unknown)
    for c in res.by_coder:
        if not CODER_RE.match(c):
            raise QdpxError(f"{path}: user name '{c}' cannot be a coder name; use --coder")
    for c in sorted(res.by_coder):
        res.files.append(record_decisions(p.root, c, [r for r in res.rows if r.coder == c], p.by_id, p.codebook.effective_ref).path)
    return res
