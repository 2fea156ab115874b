"""XML that every reader accepts: text made safe for XML 1.0, and a bounded parser for the XML we read.

**Writing.** XML 1.0 allows tab, line feed, carriage return and every character from U+0020 on
except the surrogates and U+FFFE/U+FFFF. A transcript may hold others — Word writes U+000B
(vertical tab) for a manual line break — and one of them in any element or attribute makes the
whole file unreadable (by lxml, QualCoder, Gephi and this toolkit alike). Every XML file this
toolkit writes (project.qde, .qdc, GraphML, GEXF) passes its text through :func:`to_xml`:

- U+0000–U+001F other than tab, LF and CR become their Unicode *control pictures*
  U+2400–U+241F (U+000B → ␋ U+240B, U+000C → ␌): visible where the text is shown, and turned
  back by :func:`from_xml`, which this toolkit applies to every text it reads from such a file.
  A control picture the text itself holds is written after a WORD JOINER (U+2060, invisible), so
  that it reads back as itself: the mapping is reversible for every text;
- U+FFFE, U+FFFF (noncharacters, never text) and unpaired surrogates become U+FFFD, which
  nothing turns back;
- a carriage return, which XML readers turn into a line feed, is written ``&#13;``
  (:func:`xml_bytes`).

The plain-text sources inside a .qdpx keep every character as it is (they are not XML), so
positions into them never move. ``validate`` names the line of every transcript that holds such
a character (:func:`xml_warnings`).

**Reading.** :func:`parse_xml` builds an ElementTree from bytes with expat, refusing a DOCTYPE
(the REFI-QDA formats need none, and without one no entity can expand) and elements nested
deeper than ``max_depth`` (a hostile file could otherwise exhaust the stack of whatever walks
the tree). Problems raise :class:`XmlProblem` with the line; callers add the file name.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Iterable
from xml.parsers import expat

MAX_DEPTH = 256  # libxml2's default limit too; REFI-QDA code trees are a few levels deep
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_PICTURE = "[\u2400-\u2408\u240b\u240c\u240e-\u241f]"
_TO = re.compile(f"{_PICTURE}|{_FORBIDDEN.pattern}")
_FROM = re.compile(f"\u2060?{_PICTURE}")
JOINER = "\u2060"
NAMES = {0x0B: "vertical tab: Word's manual line break", 0x0C: "form feed: a page break", 0x00: "NUL",
         0x1B: "escape", 0x08: "backspace", 0xFFFE: "a noncharacter", 0xFFFF: "a noncharacter"}


def _picture(m: re.Match) -> str:
    c = ord(m.group(0))
    if 0x2400 <= c <= 0x241F:  # a picture the text holds: marked, so that it reads back as itself
        return JOINER + m.group(0)
    return chr(0x2400 + c) if c < 0x20 else "\ufffd"


def to_xml(text: str) -> str:
    """``text`` with every character XML 1.0 forbids replaced (see the module docstring)."""
    return _TO.sub(_picture, text) if _TO.search(text) else text


def from_xml(text: str) -> str:
    """The inverse of :func:`to_xml`: ␋ → U+000B, a joined ⁠␋ → ␋."""
    if not _FROM.search(text):
        return text
    return _FROM.sub(lambda m: m.group(0)[1] if len(m.group(0)) == 2 else chr(ord(m.group(0)) - 0x2400), text)


def xml_bytes(root: ET.Element) -> bytes:
    """An element tree as UTF-8 XML with its declaration; a carriage return in text is written
    ``&#13;`` so that it reads back (ElementTree escapes it in attributes only, and nothing else
    in the output is a carriage return)."""
    return ET.tostring(root, encoding="utf-8", xml_declaration=True).replace(b"\r", b"&#13;")


def forbidden(text: str) -> list[int]:
    """Offsets of the characters XML 1.0 forbids in ``text``."""
    return [m.start() for m in _FORBIDDEN.finditer(text)]


def describe(ch: str) -> str:
    """``U+000B (vertical tab: Word's manual line break)``."""
    c = ord(ch)
    name = NAMES.get(c, "a control character" if c < 0x20 else "an unpaired surrogate")
    return f"U+{c:04X} ({name})"


def xml_warnings(transcripts: Iterable) -> list[str]:
    """One warning per transcript holding characters XML 1.0 forbids, with the line of the first."""
    out = []
    for t in transcripts:
        found = forbidden(t.body)
        if not found:
            continue
        first = t.body[found[0]]
        shown = to_xml(first)
        more = f" and {len(found) - 1} more such character(s)" if len(found) > 1 else ""
        out.append(f"{t.path}:{t.line_of(found[0])}: {describe(first)}{more}: XML 1.0 forbids it, so REFI-QDA, "
                   f"GraphML and GEXF files show it as {shown} (the .qdpx source text keeps it)")
    return out


class XmlProblem(ValueError):
    """XML that cannot be read; ``line`` is 1-based (0 when unknown)."""

    def __init__(self, line: int, message: str):
        self.line, self.message = line, message
        super().__init__(f"line {line}: {message}" if line else message)


class _Refused(Exception):
    pass


def parse_xml(data: bytes, *, max_depth: int = MAX_DEPTH) -> ET.Element:
    """The root element of the XML document ``data`` (namespaced tags as ``{uri}local``)."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    depth = 0

    def name(n: str) -> str:
        return "{" + n if "}" in n else n

    def start(tag: str, attrs: dict) -> None:
        nonlocal depth
        depth += 1
        if depth > max_depth:
            raise _Refused(f"elements nested deeper than {max_depth} levels; refused")
        builder.start(name(tag), {name(k): v for k, v in attrs.items()})

    def end(tag: str) -> None:
        nonlocal depth
        depth -= 1
        builder.end(name(tag))

    def doctype(*_) -> None:
        raise _Refused("a DOCTYPE declaration, which this format never needs; refused")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    try:
        parser.Parse(data, True)
    except _Refused as e:
        raise XmlProblem(parser.CurrentLineNumber, str(e)) from None
    except expat.ExpatError as e:
        raise XmlProblem(e.lineno, f"not well-formed XML: {expat.ErrorString(e.code)}") from None
    return builder.close()


# ---------------------------------------------------------------- walking a parsed tree
def local(tag) -> str:
    """An element's name without its namespace."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def kids(el, name: str) -> list:
    """The children of ``el`` called ``name`` (any namespace)."""
    return [c for c in el if local(c.tag) == name]


def kid(el, name: str):
    """The first child of ``el`` called ``name``, or None."""
    for c in el:
        if local(c.tag) == name:
            return c
    return None


def text_of(el) -> str:
    """An element's text as written (control pictures turned back), '' for None."""
    return "" if el is None or el.text is None else from_xml(el.text)
