"""REFI-QDA codebook exchange (``.qdc``), and the code tree both REFI-QDA formats share.

A ``.qdc`` is one XML document in the namespace ``urn:QDA-XML:codebook:1.0`` (the REFI-QDA
Codebook standard): ``CodeBook`` → ``Codes`` → nested ``Code`` elements, then optional ``Sets``
of codes. QualCoder, Taguette, NVivo, ATLAS.ti and MAXQDA exchange codebooks this way.

**Export** (:func:`export_qdc`): every code of codebook.yml as a ``Code`` nested under its parent,
named ``"<id> <label>"`` (:func:`code_name`), ``isCodable="false"`` for groups, coloured by kind,
with its definition as ``Description``; then one ``Set`` per kind (``challenge``, ``practice`` …)
and one per region of the findings (``region: 日本``) listing their codes, so that programs with
code groups show them and this toolkit reads kinds and regions back. GUIDs are UUID5s of the code ids: the same codebook gives the same file, and a code's GUID
names it exactly when the file comes back. Text passes :func:`coding.xmltext.to_xml`.

**Import** (:func:`import_qdc`): the file's codes are matched to the codebook's by GUID, then by
name (id, label or ``"<id> <label>"``, :func:`map_code`). Codes that match nothing are added to
codebook.yml as new entries after its last code — comments and every other line stay as they
were — under their parent, with the file's description as definition. A new code's kind is the
file's kind set, else ``kind`` (``--kind``), else the kind most codes beside it have, else
``theme``; a code that cannot be coded (a category) becomes a ``group``; a finding takes its
region from the file's region set (a finding without one is refused: the codebook needs it). Codes that match are
never changed: a description or a parent that differs is reported. A project without
codebook.yml gets one made of the file's codes. The merged codebook must load, every problem
listed, before anything is written.
"""
from __future__ import annotations

import re
import unicodedata
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping

import yaml

from .codebook import KINDS, Codebook, build_codebook, load_codebook
from .errors import CodebookError, ExchangeError
from .files import atomic_write_bytes
from .xmltext import XmlProblem, from_xml, kid, kids, local, parse_xml, text_of, to_xml, xml_bytes
from .yamlfile import YamlProblem, key_line, line_of, load_yaml

NS_CODEBOOK = "urn:QDA-XML:codebook:1.0"
GUID_NS = uuid.UUID("6f1c5a4e-3b7d-5e2a-9c1d-8e4f2a6b0c93")
ORIGIN = "hearing-survey coding toolkit"
KIND_COLORS = {"group": "#BAB0AC", "phase": "#4E79A7", "theme": "#F28E2B", "finding": "#E15759",
               "challenge": "#76B7B2", "practice": "#59A14F", "case": "#EDC948"}
MAX_BYTES = 64 * 2**20  # a codebook file larger than this is refused unread
REGION_SET = "region: "  # the name of a set of findings starts so


def guid(*parts: str) -> str:
    """A stable GUID for what ``parts`` identify (UUID5)."""
    return str(uuid.uuid5(GUID_NS, "\x1f".join(parts)))


def norm_guid(g: str | None) -> str:
    """GUIDs as compared: without braces, lower case."""
    return (g or "").strip().strip("{}").lower()


def code_name(code) -> str:
    """The name another program shows: ``"<id> <label>"`` (just the id when the label repeats it)."""
    return code.id if not code.label or code.label == code.id else f"{code.id} {code.label}"


# ---------------------------------------------------------------- writing codes
def add_code_tree(parent_el: ET.Element, cb: Codebook, q: Callable[[str], str]) -> int:
    """Append the codebook's codes under ``parent_el`` (a ``Codes`` element) as nested ``Code``
    elements, parents before children, tag names made by ``q``; returns how many were written."""
    children: dict[str | None, list] = {}
    for c in cb.codes.values():
        children.setdefault(c.parent if c.parent in cb.codes else None, []).append(c)
    written = 0
    seen: set[str] = set()
    stack = [(parent_el, c) for c in reversed(children.get(None, []))]
    while stack:
        el_parent, c = stack.pop()
        if c.id in seen:  # a cycle would be a codebook error; never loop on it
            continue
        seen.add(c.id)
        el = ET.SubElement(el_parent, q("Code"), {
            "guid": guid("code", c.id), "name": to_xml(code_name(c)), "isCodable": "true" if c.codable else "false",
            "color": KIND_COLORS.get(c.kind, "#888888"),
        })
        desc = c.definition or c.label
        if desc:
            ET.SubElement(el, q("Description")).text = to_xml(desc)
        written += 1
        stack.extend((el, child) for child in reversed(children.get(c.id, [])))
    return written


def add_code_sets(parent_el: ET.Element, cb: Codebook, q: Callable[[str], str], *, member_attr: str) -> None:
    """A ``Sets`` element: one ``Set`` per code kind, then one per region of the findings
    (``region: 日本``) — ``member_attr`` is ``guid`` in a .qdc, ``targetGUID`` in a project."""
    groups: dict[str, tuple[str, list[str]]] = {}
    for c in cb.codes.values():
        groups.setdefault(c.kind, (f"codes of kind '{c.kind}' in codebook.yml", []))[1].append(c.id)
    for c in cb.codes.values():
        if c.kind == "finding" and c.get("region"):
            name = f"{REGION_SET}{c.get('region')}"
            groups.setdefault(name, (f"findings of the region {c.get('region')}", []))[1].append(c.id)
    if not groups:
        return
    sets = ET.SubElement(parent_el, q("Sets"))
    for name, (description, ids) in groups.items():
        s = ET.SubElement(sets, q("Set"), {"guid": guid("set", name), "name": to_xml(name)})
        ET.SubElement(s, q("Description")).text = to_xml(description)
        for cid in ids:
            ET.SubElement(s, q("MemberCode"), {member_attr: guid("code", cid)})


def build_qdc(cb: Codebook) -> bytes:
    """The .qdc bytes of a codebook (see the module docstring)."""
    if not cb.codes:
        raise ExchangeError(f"{cb.path}: the codebook has no codes to export")
    ET.register_namespace("", NS_CODEBOOK)

    def q(tag: str) -> str:
        return f"{{{NS_CODEBOOK}}}{tag}"

    root = ET.Element(q("CodeBook"), {"origin": ORIGIN})
    add_code_tree(ET.SubElement(root, q("Codes")), cb, q)
    add_code_sets(root, cb, q, member_attr="guid")
    ET.indent(root, space="  ")
    return xml_bytes(root) + b"\n"


@dataclass(frozen=True)
class QdcExport:
    path: Path
    codes: int
    kinds: int


def export_qdc(cb: Codebook, path: Path | str) -> QdcExport:
    """Write the codebook as a .qdc file, atomically."""
    path = Path(path)
    data = build_qdc(cb)
    try:
        atomic_write_bytes(path, data)
    except OSError as e:
        raise ExchangeError(f"{path}: cannot write: {e.strerror or e}") from None
    return QdcExport(path, len(cb.codes), len({c.kind for c in cb.codes.values()}))


# ---------------------------------------------------------------- reading codes
@dataclass(frozen=True)
class QCode:
    guid: str
    name: str
    codable: bool
    parent: str | None  # the parent code's GUID
    description: str = ""


def read_codes(codes_el, where: str) -> dict[str, QCode]:
    """Every ``Code`` under a ``Codes`` element, by normalised GUID, parents before children."""
    out: dict[str, QCode] = {}
    stack = [(c, None) for c in reversed(kids(codes_el, "Code"))]
    while stack:
        c, parent = stack.pop()
        g = norm_guid(c.get("guid"))
        if not g or c.get("name") is None:
            raise ExchangeError(f"{where}: a Code without guid or name (parent {parent or 'none'})")
        # the standard says isCodable is an xsd:boolean: true, false, 1 or 0
        codable = (c.get("isCodable") or "true").strip().lower() in ("true", "1")
        out[g] = QCode(g, from_xml(c.get("name")), codable, parent, text_of(kid(c, "Description")))
        stack.extend((child, g) for child in reversed(kids(c, "Code")))
    return out


def read_sets(sets_el) -> dict[str, tuple[str, ...]]:
    """Set name → member code GUIDs (``MemberCode`` with ``guid`` or ``targetGUID``)."""
    out: dict[str, tuple[str, ...]] = {}
    for s in kids(sets_el, "Set") if sets_el is not None else []:
        members = tuple(norm_guid(m.get("guid") or m.get("targetGUID")) for m in kids(s, "MemberCode"))
        out[from_xml(s.get("name") or "")] = members
    return out


@dataclass(frozen=True)
class QdcCodebook:
    origin: str
    codes: Mapping[str, QCode]
    sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def read_qdc(path: Path | str) -> QdcCodebook:
    """Parse a .qdc file (ours or another program's; a UTF-8 BOM is fine)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ExchangeError(f"{path}: {size / 2**20:.1f} MiB, more than a codebook file may have "
                                f"({MAX_BYTES // 2**20} MiB); refused")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ExchangeError(f"{path}: not found") from None
    except OSError as e:
        raise ExchangeError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        root = parse_xml(data)
    except XmlProblem as e:
        raise ExchangeError(f"{path}:{e.line}: {e.message}" if e.line else f"{path}: {e.message}") from None
    if local(root.tag) != "CodeBook":
        raise ExchangeError(f"{path}: the root element is {local(root.tag)}, not CodeBook (is it a .qdc file?)")
    codes_el = kid(root, "Codes")
    if codes_el is None:
        raise ExchangeError(f"{path}: no Codes element inside CodeBook")
    return QdcCodebook(root.get("origin") or "", read_codes(codes_el, str(path)), read_sets(kid(root, "Sets")))


# ---------------------------------------------------------------- mapping codes
def _fold(s: str) -> str:
    return unicodedata.normalize("NFKC", s).strip().casefold()


def guid_index(cb: Codebook) -> dict[str, str]:
    """GUID → code id for the GUIDs this toolkit gives the codebook's codes."""
    return {guid("code", cid): cid for cid in cb.codes}


def map_code(name: str, codebook: Codebook, *, code_guid: str = "", index: Mapping[str, str] | None = None) -> str | None:
    """The codebook code a code from another program stands for, or None: by GUID (one this
    toolkit gave it), then by name — id, ``"<id> <label>"``, a label only one code has, the last
    part of a path written into the name, or ``"<id> <anything>"``."""
    if code_guid:
        found = (index if index is not None else guid_index(codebook)).get(norm_guid(code_guid))
        if found is not None:
            return found
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


# ---------------------------------------------------------------- merging into codebook.yml
@dataclass(frozen=True)
class NewCode:
    id: str
    kind: str
    label: str
    parent: str | None
    definition: str
    region: str = ""  # a finding's


@dataclass(frozen=True)
class QdcImport:
    path: Path  # the codebook written (or that would be)
    matched: Mapping[str, str] = field(default_factory=dict)  # the file's code name → code id
    added: tuple[NewCode, ...] = ()
    notes: tuple[str, ...] = ()
    created: bool = False  # codebook.yml did not exist


def _new_id(qc: QCode, taken: set[str]) -> tuple[str, str]:
    """(id, label) for a code the codebook does not have."""
    m = re.match(r"^(\S+) (.+)$", qc.name, re.S)
    if m and guid("code", m.group(1)) == qc.guid:  # this toolkit's "<id> <label>"
        return m.group(1), m.group(2)
    if guid("code", qc.name) == qc.guid:
        return qc.name, qc.name
    base = " ".join(qc.name.split()) or "code"
    cid, i = base, 2
    while cid in taken:
        cid, i = f"{base}_{i}", i + 1
    return cid, qc.name.strip() or base


def plan_merge(cb: Codebook | None, qdc: QdcCodebook, *, source: Path, kind: str | None = None) -> QdcImport:
    """What importing ``qdc`` (read from ``source``) into ``cb`` (None: no codebook yet) would
    match and add."""
    known_kinds = tuple(KINDS) + (tuple(cb.settings.kinds) if cb else ())
    if kind is not None and kind not in known_kinds:
        raise ExchangeError(f"--kind {kind}: not a code kind ({', '.join(known_kinds)})")
    target = cb.path if cb else Path("codebook.yml")
    matched: dict[str, str] = {}
    added: list[NewCode] = []
    notes: list[str] = []
    set_kind = {g: name for name, members in qdc.sets.items() if name in known_kinds for g in members}
    set_region = {g: name[len(REGION_SET):] for name, members in qdc.sets.items() if name.startswith(REGION_SET)
                  for g in members}
    index = guid_index(cb) if cb else {}
    final: dict[str, str] = {}  # the file's GUID → code id
    kinds_of: dict[str, str] = {c.id: c.kind for c in cb.codes.values()} if cb else {}
    parent_of: dict[str, str | None] = {c.id: c.parent for c in cb.codes.values()} if cb else {}
    for g, qc in qdc.codes.items():  # parents come first
        parent = final.get(qc.parent) if qc.parent else None
        cid = map_code(qc.name, cb, code_guid=g, index=index) if cb else None
        if cid is not None:
            final[g] = cid
            matched[qc.name] = cid
            code = cb.codes[cid]
            if qc.description.strip() and qc.description.strip() not in (code.definition.strip(), code.label.strip()):
                notes.append(f"{cid}: the description in {source.name} differs from the definition in "
                                 f"{target.name} (the codebook is not changed)")
            if qc.parent and parent != code.parent:
                notes.append(f"{cid}: its parent in {source.name} is {parent or 'another code'}, in {target.name} "
                                 f"{code.parent or 'none'} (the codebook is not changed)")
            if qc.codable != code.codable:
                notes.append(f"{cid}: {'codable' if qc.codable else 'not codable'} in {source.name}, "
                                 f"{'codable' if code.codable else 'not codable'} in {target.name}")
            continue
        new_id, label = _new_id(qc, set(kinds_of))
        if not qc.codable:
            new_kind = "group"
        elif g in set_kind:
            new_kind = set_kind[g]
        elif kind is not None:
            new_kind = kind
        else:
            beside = Counter(k for c, k in kinds_of.items() if parent_of.get(c) == parent and k != "group")
            new_kind = beside.most_common(1)[0][0] if beside else "theme"
        final[g] = new_id
        kinds_of[new_id], parent_of[new_id] = new_kind, parent
        added.append(NewCode(new_id, new_kind, label, parent, qc.description.strip(),
                                 set_region.get(g, "") if new_kind == "finding" else ""))
    lost = [c.id for c in added if c.kind == "finding" and not c.region]
    if lost:
        raise ExchangeError(f"{source}: {', '.join(lost)}: a finding needs its region, which the file does not say "
                            "(only this toolkit's .qdc files do); give another --kind or add these codes by hand")
    return QdcImport(target, matched, tuple(added), tuple(notes))


def _entries_yaml(codes: list[NewCode], indent: int) -> str:
    out = []
    for c in codes:
        entry = {"id": c.id, "kind": c.kind, "label": c.label}
        if c.parent:
            entry["parent"] = c.parent
        if c.region:
            entry["region"] = c.region
        if c.definition:
            entry["definition"] = c.definition
        text = yaml.safe_dump([entry], allow_unicode=True, sort_keys=False, width=10_000)
        out.extend(" " * indent + line for line in text.splitlines())
    return "\n".join(out) + "\n"


def merged_text(text: str, added: list[NewCode], *, name: str, note: str) -> str:
    """``text`` (codebook.yml) with ``added`` appended to its ``codes:`` list, nothing else changed."""
    try:
        raw = load_yaml(text)
    except YamlProblem as e:
        raise ExchangeError(f"{name}:{e.line}: {e.message}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("codes"), list):
        raise ExchangeError(f"{name}: no 'codes:' list to add the new codes to")
    nl = "\r\n" if "\r\n" in text else "\n"
    lines = text.replace("\r\n", "\n").split("\n")
    codes_line = key_line(raw, "codes")
    head = lines[codes_line - 1]
    rest = head.split(":", 1)[1].split("#", 1)[0].strip() if ":" in head else ""
    if rest and rest != "[]":
        raise ExchangeError(f"{name}:{codes_line}: 'codes:' is written in flow style ([...]); write it as a "
                            "block list (one '- id: ...' per code) to merge codes into it")
    if rest == "[]":
        lines[codes_line - 1] = head.split(":", 1)[0] + ":"
    first = raw["codes"][0] if raw["codes"] and isinstance(raw["codes"][0], dict) else None
    indent = lines[line_of(first) - 1].index("-") if first is not None and "-" in lines[line_of(first) - 1] else 2
    later = [ln for k, ln in (raw.get("__keylines__") or {}).items() if ln > codes_line]
    at = min(later) - 1 if later else len(lines)
    while at > codes_line and (not lines[at - 1].strip() or lines[at - 1].lstrip().startswith("#")):
        at -= 1
    block = [" " * indent + f"# {note}"] + _entries_yaml(added, indent).rstrip("\n").split("\n")
    return nl.join(lines[:at] + block + lines[at:])


def import_qdc(root: Path | str, path: Path | str, *, kind: str | None = None) -> QdcImport:
    """Merge a .qdc's codes into ``root``'s codebook.yml (or make one): see the module docstring."""
    root, path = Path(root), Path(path)
    target = root / "codebook.yml"
    qdc = read_qdc(path)
    cb = load_codebook(target) if target.exists() else None
    res = plan_merge(cb, qdc, source=path, kind=kind)
    res = replace(res, path=target, created=cb is None)
    if cb is not None and not res.added:
        return res
    note = f"imported from {path.name}" + (f" ({qdc.origin})" if qdc.origin else "") + " by `python cli.py import qdc`"
    if cb is None:
        text = (f"# Codes {note}.\n# FORMATS.md describes every key; add regions, patterns and tables as the study needs.\n"
                "codes:\n" + _entries_yaml(list(res.added), 2))
        bom = b""
    else:
        data = target.read_bytes()
        bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
        text = merged_text(data.decode("utf-8-sig"), list(res.added), name=target.name, note=note)
    try:
        build_codebook(load_yaml(text), path=target, name=target.name)
    except (CodebookError, YamlProblem) as e:
        problems = getattr(e, "problems", None) or [str(e)]
        raise ExchangeError(f"{target.name}: with the codes of {path.name} it would not load; nothing was written "
                            "(--kind chooses the kind of new codes)", problems) from None
    try:
        atomic_write_bytes(target, bom + text.encode("utf-8"))
    except OSError as e:
        raise ExchangeError(f"{target}: cannot write: {e.strerror or e}; nothing was changed") from None
    return res
