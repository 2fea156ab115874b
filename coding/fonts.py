"""The Japanese font pages fall back on, so they render on a machine without Japanese fonts.

The font is IPAex Gothic, the file the ``matplotlib-fontja`` package ships (the PNG figures draw
their labels with it too; IPA Font License v1.0, which allows embedding it in documents).

- :func:`bundled_font` finds the file without importing the package (that would load matplotlib).
- :func:`font_face` is a CSS ``@font-face`` rule with the font inside it, as a ``data:`` URL, cut
  down to the characters a page uses (the whole font is 6 MB; a report's tables use a few
  hundred characters, some 100–300 KB as WOFF). The cut is a pure function of the characters:
  the same page gives the same bytes.

Pages list the font last among the Japanese fonts of the usual systems (``FONT_STACK``): a
machine that has one of those uses it, any other machine the bundled font.
"""
from __future__ import annotations

import base64
import functools
import importlib.util
import io
from pathlib import Path

FAMILY = "BundledIPAexGothic"
FONT_STACK = ("'Hiragino Sans','Hiragino Kaku Gothic ProN','Noto Sans CJK JP','Noto Sans JP','Yu Gothic','Meiryo',"
              f"'IPAexGothic','{FAMILY}',sans-serif")
# ASCII is always kept, so digits and Latin letters a page adds later still render
_ALWAYS = "".join(chr(c) for c in range(0x20, 0x7F))


def bundled_font() -> Path | None:
    """The IPAex Gothic file of ``matplotlib-fontja``, or None when the package is not installed."""
    spec = importlib.util.find_spec("matplotlib_fontja")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "fonts" / "ipaexg.ttf"
        if path.is_file():
            return path
    return None


@functools.lru_cache(maxsize=8)
def _subset(chars: str, path: str) -> bytes:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    opts = subset.Options()
    opts.flavor = "woff"
    opts.hinting = False  # screens and printers hint themselves; hints are a third of the glyph data
    opts.notdef_outline = True
    opts.layout_features = ["*"]  # vertical forms and the like, as the font has them
    opts.name_IDs = ["*"]  # the licence and the font's names stay with it
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=sorted({ord(c) for c in chars}))
    font = TTFont(path, recalcTimestamp=False)  # the same characters give the same bytes
    sub.subset(font)
    buf = io.BytesIO()
    font.flavor = "woff"
    font.save(buf, reorderTables=False)
    return buf.getvalue()


def font_subset(text: str) -> bytes | None:
    """The bundled font cut down to the characters of ``text`` (and ASCII), as WOFF bytes; None
    without the font."""
    path = bundled_font()
    if path is None:
        return None
    chars = "".join(sorted(set(text + _ALWAYS) - {"\n", "\r", "\t"}))
    return _subset(chars, str(path))


def font_face(text: str) -> str:
    """A CSS ``@font-face`` rule declaring :data:`FAMILY` with the bundled font cut down to the
    characters of ``text``, inline; '' without the font."""
    data = font_subset(text)
    if data is None:
        return ""
    b64 = base64.b64encode(data).decode("ascii")
    return (f"@font-face{{font-family:'{FAMILY}';src:url(data:font/woff;base64,{b64}) format('woff');"
            "font-display:block;}")
