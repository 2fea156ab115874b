"""The forms a real name takes in notes, so that every one of them is found and masked.

A name written once as 東北大学 turns up elsewhere as Ｔｏｈｏｋｕ Ｕｎｉｖｅｒｓｉｔｙ, Tohoku University,
ﾄｳﾎｸ大学, 東北 大学 or 東北大; 株式会社日立製作所 as Hitachi, Ltd. or 日立 製作所. This module gives:

* :func:`fold` — text in NFKC (full-width Latin and half-width kana made ordinary), with the
  offset of every folded character in the original, so a match in the folded text masks the
  right characters of the original;
* :func:`variants` — the written forms of a name: its folded form, the short form of a
  university (X大学 → X大), and from its reading (Sudachi) the katakana and Hepburn romaji
  forms (Tohoku University, University of Tohoku, Taro Yamada, Yamada Taro …);
* :func:`pattern` — a regular expression for a form that also meets it spaced out (日立 製作所)
  and in any letter case;
* :func:`latin_names` and :func:`kana_names` — names written in Latin letters or kana that the
  Japanese NER does not see (Stanford University, Mr. Suzuki, Taro Yamada, 株式会社ヒタチ…).
"""
from __future__ import annotations

import bisect
import re
import unicodedata
from typing import Callable, Iterable, Iterator, Sequence

# ---------------------------------------------------------------- folding
def _special() -> re.Pattern:
    """Characters whose NFKC form is not one character (…, ㈱, ﬁ), and characters followed by
    combining marks (half-width ﾞ/ﾟ included), which compose: everywhere else NFKC maps one
    character to one, so a whole run can be normalised at once and offsets stay as they are."""
    grow, marks = [], ["\uff9e", "\uff9f", "\u3099", "\u309a"]
    for cp in range(0x80, 0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        if len(unicodedata.normalize("NFKC", c)) != 1:
            grow.append(c)
        elif unicodedata.combining(c):
            marks.append(c)
    cls = lambda cs: "[" + "".join(re.escape(c) for c in cs) + "]"  # noqa: E731
    return re.compile(f"(?:.{cls(marks)}+)|{cls(marks)}+|{cls(grow)}", re.S)


_SPECIAL: re.Pattern | None = None


class Offsets:
    """Maps an index of the folded text to the index of the original character it came from
    (``where[i]``; ``where[len(folded)]`` is the original's length)."""

    def __init__(self, folded_len: int, text_len: int, fb: list[int], ob: list[int]):
        self._n, self._len, self._fb, self._ob = folded_len, text_len, fb, ob

    def __len__(self) -> int:
        return self._n + 1

    def __getitem__(self, i: int) -> int:
        if i >= self._n:
            return self._len
        k = bisect.bisect_right(self._fb, i) - 1
        return self._ob[k] + (i - self._fb[k])


def fold(text: str) -> tuple[str, Offsets]:
    """``(folded, where)``: ``text`` in NFKC (half-width kana with their voicing marks composed,
    full-width Latin made ASCII) and, for each folded character, the index of the original
    character it came from. Linear, and no per-character objects: fine for a 10 MB line."""
    global _SPECIAL
    if text.isascii():
        return text, Offsets(len(text), len(text), [0], [0])
    if _SPECIAL is None:
        _SPECIAL = _special()
    parts: list[str] = []
    fb, ob = [0], [0]
    f = o = 0
    for m in _SPECIAL.finditer(text):
        run = text[o:m.start()]
        if run:
            parts.append(unicodedata.normalize("NFKC", run))
            f += len(run)
            o = m.start()
        group = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", m.group(0)))
        for i in range(len(group)):  # every folded character of the group comes from its start
            fb.append(f + i)
            ob.append(o)
        parts.append(group)
        f += len(group)
        o = m.end()
        fb.append(f)
        ob.append(o)
    if o < len(text):
        parts.append(unicodedata.normalize("NFKC", text[o:]))
        f += len(text) - o
    return "".join(parts), Offsets(f, len(text), fb, ob)


def folded(text: str) -> str:
    return fold(text)[0]


# ---------------------------------------------------------------- patterns
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff々〆ー]")
_GAP = r"[ \t\u3000]*"


def pattern(form: str) -> str:
    """A regex for a folded form: spaces between CJK characters optional (日立 製作所), any run of
    spaces where the form has one, letter case ignored (compile with re.I)."""
    out = []
    prev = ""
    for ch in form:
        if ch.isspace():
            if out and out[-1] != _GAP:
                out.append(_GAP)
            prev = ""
            continue
        if prev and _CJK.match(prev) and _CJK.match(ch):
            out.append(_GAP)
        out.append(re.escape(ch))
        prev = ch
    return "".join(out).strip()


# ---------------------------------------------------------------- romaji
_KANA = {
    "ア": "a", "イ": "i", "ウ": "u", "エ": "e", "オ": "o", "カ": "ka", "キ": "ki", "ク": "ku", "ケ": "ke", "コ": "ko",
    "サ": "sa", "シ": "shi", "ス": "su", "セ": "se", "ソ": "so", "タ": "ta", "チ": "chi", "ツ": "tsu", "テ": "te", "ト": "to",
    "ナ": "na", "ニ": "ni", "ヌ": "nu", "ネ": "ne", "ノ": "no", "ハ": "ha", "ヒ": "hi", "フ": "fu", "ヘ": "he", "ホ": "ho",
    "マ": "ma", "ミ": "mi", "ム": "mu", "メ": "me", "モ": "mo", "ヤ": "ya", "ユ": "yu", "ヨ": "yo",
    "ラ": "ra", "リ": "ri", "ル": "ru", "レ": "re", "ロ": "ro", "ワ": "wa", "ヲ": "o", "ン": "n",
    "ガ": "ga", "ギ": "gi", "グ": "gu", "ゲ": "ge", "ゴ": "go", "ザ": "za", "ジ": "ji", "ズ": "zu", "ゼ": "ze", "ゾ": "zo",
    "ダ": "da", "ヂ": "ji", "ヅ": "zu", "デ": "de", "ド": "do", "バ": "ba", "ビ": "bi", "ブ": "bu", "ベ": "be", "ボ": "bo",
    "パ": "pa", "ピ": "pi", "プ": "pu", "ペ": "pe", "ポ": "po", "ヴ": "vu",
    "ァ": "a", "ィ": "i", "ゥ": "u", "ェ": "e", "ォ": "o",
}
_YOON = {"ャ": "a", "ュ": "u", "ョ": "o"}


def romaji(kana: str) -> str:
    """Hepburn romaji of a katakana reading (トウホク → touhoku, タロウ → tarou)."""
    out: list[str] = []
    double = False
    for ch in kana:
        ch = chr(ord(ch) + 0x60) if "ぁ" <= ch <= "ゖ" else ch  # hiragana → katakana
        if ch == "ッ":
            double = True
            continue
        if ch in _YOON and out:
            prev = out[-1]
            base = prev[:-1] if prev.endswith("i") else prev
            out[-1] = (base if base in ("sh", "ch", "j") else base + "y") + _YOON[ch]
            continue
        if ch == "ー":
            if out:
                out[-1] += out[-1][-1]
            continue
        r = _KANA.get(ch)
        if r is None:
            return ""  # not a reading we can spell
        if double:
            r = ("t" + r) if r.startswith("ch") else (r[0] + r)
            double = False
        out.append(r)
    return "".join(out)


def plain_long_vowels(r: str) -> str:
    """The long vowels as names are usually spelt in Latin letters: touhoku → tohoku, yuuki → yuki."""
    return re.sub(r"ou|oo|uu", lambda m: m.group(0)[0], r)


# ---------------------------------------------------------------- variants
INSTITUTION_WORDS = {  # the Japanese word of a name's kind → how Latin-letter names write it
    "大学": ("university", "univ.", "daigaku"), "大学院": ("graduate school",), "研究所": ("institute", "research institute"),
    "製作所": ("ltd.", "co., ltd.", "corporation", "manufacturing"), "株式会社": ("inc.", "co., ltd.", "ltd.", "corporation"),
    "病院": ("hospital",), "財団": ("foundation",),
}
GENERIC_STEMS = {"国立", "公立", "私立", "州立", "工業", "工科", "海外", "国内", "米国", "本", "当", "他", "各", "地方", "大"}


def variants(name: str, reading: Callable[[str], Sequence[tuple[str, str]]] | None = None) -> list[str]:
    """The folded written forms of ``name`` to look for and mask. ``reading(text)`` gives
    ``(surface, katakana reading)`` of a text's words (Sudachi), for the kana and romaji forms."""
    f = folded(name).strip()
    out = [f]
    for suffix in ("大学院", "大学"):
        if f.endswith(suffix) and len(f) - len(suffix) >= 2 and f[: -len(suffix)] not in GENERIC_STEMS:
            out.append(f[: -len(suffix)] + "大")  # 東北大学 → 東北大
            break
    if reading is None or not _CJK.search(f):
        return _unique(out)
    words = [(s, r) for s, r in reading(f) if s.strip()]
    kinds = [w for w in words if w[0] in INSTITUTION_WORDS]
    stem = [w for w in words if w[0] not in INSTITUTION_WORDS and w[0] not in ("株式", "会社")]
    if not stem or not all(r for _, r in stem):
        return _unique(out)
    kana = "".join(r for _, r in stem)
    out.append(kana + "".join(s for s, _ in kinds))  # トウホク大学
    spelt = [romaji(r) for _, r in stem]
    if not all(spelt):
        return _unique(out)
    for style in (lambda x: x, plain_long_vowels):
        parts = [style(p) for p in spelt]
        joined = "".join(parts)
        if kinds:
            for _, latin in ((k, w) for k, _ in kinds for w in INSTITUTION_WORDS[k]):
                out.append(f"{joined} {latin}")
                if latin == "university":
                    out.append(f"university of {joined}")
            out.append(joined)
        elif len(parts) == 2:  # a person: family and given name, either order
            out += [f"{parts[0]} {parts[1]}", f"{parts[1]} {parts[0]}"]
        elif len(joined) >= 4:
            out.append(joined)
    return _unique(out)


def _unique(forms: Iterable[str]) -> list[str]:
    return [f for f in dict.fromkeys(x.strip() for x in forms) if len(f) >= 2]


# ---------------------------------------------------------------- finding names in Latin letters and kana
_CAP = r"[A-Z][A-Za-z&'\-]+"
_ORG_WORD = (r"(?:University|College|Institute(?:\s+of\s+Technology)?|Inc\.?|Ltd\.?|Co\.,?\s*Ltd\.?|Corporation|Corp\.?|"
             r"Company|Foundation|Hospital|Laboratories|Holdings)")
LATIN_ORG = re.compile(rf"\b(?:{_CAP}(?:,)?\s+(?:(?:of|and|&|for)\s+)?){{1,5}}{_ORG_WORD}|\bUniversity\s+of\s+{_CAP}(?:\s+{_CAP}){{0,3}}")
LATIN_HONORIFIC = re.compile(rf"\b(?:Mr|Ms|Mrs|Dr|Prof|Professor)\.?\s+{_CAP}(?:\s+{_CAP})?")
LATIN_AMP = re.compile(r"\b[A-Z]{1,4}&[A-Z]{1,4}\b")  # P&G, AT&T (R&D and the like are allowed by default)
LATIN_PAIR = re.compile(r"\b([A-Z][a-z]{1,14}) ([A-Z][a-z]{2,14})\b")
_ROMAJI_WORD = re.compile(r"^(?:(?:[kgsztdnhbpmyrwfj]|sh|ch|ts|ky|gy|ny|hy|by|py|my|ry|j)?[aiueo]|n)+$")
# Latin words that read like romaji but are English (and two of them are not a person's name)
ENGLISH = frozenset("""open use are one done gone more take make name same time home june rate area data idea
agenda mode code case base type sure pure game role rule zone tone tune sale here there were made late date
gate fine mine line site side wide nine note node hope""".split())
KANA_ORG = re.compile(r"(?:株式会社|有限会社|合同会社|（株）|\(株\))[ \u3000]*[\u30a0-\u30ff\u4e00-\u9fff々ー]{2,16}"
                      r"|[\u30a0-\u30ff\u4e00-\u9fff々ー]{2,16}[ \u3000]*(?:株式会社|（株）|\(株\)|製作所|ホールディングス)"
                      r"|[\u30a1-\u30faー]{2,16}[ \u3000]*大学")


def _romaji_like(word: str) -> bool:
    w = word.lower()
    return bool(_ROMAJI_WORD.match(w)) and w not in ENGLISH


def latin_names(text: str) -> Iterator[tuple[int, int, str]]:
    """``(start, end, kind)`` of names written in Latin letters in (folded) ``text``."""
    for m in LATIN_ORG.finditer(text):
        yield m.start(), m.end(), "org"
    for m in LATIN_HONORIFIC.finditer(text):
        yield m.start(), m.end(), "person"
    for m in LATIN_AMP.finditer(text):
        yield m.start(), m.end(), "org"
    for m in LATIN_PAIR.finditer(text):
        if _romaji_like(m.group(1)) and _romaji_like(m.group(2)):
            yield m.start(), m.end(), "person"


# words that follow 株式会社 in ordinary prose (株式会社形態, 株式会社化), not a company's name
COMMON_AFTER_COMPANY = ("形態", "化", "組織", "設立", "経営", "等", "方式", "形式", "制度", "として", "の")


def kana_names(text: str) -> Iterator[tuple[int, int, str]]:
    """``(start, end, kind)`` of company and university names the NER tends to miss (folded text)."""
    for m in KANA_ORG.finditer(text):
        rest = re.sub(r"^(?:株式会社|有限会社|合同会社|\(株\))[ \u3000]*", "", m.group(0))
        if rest != m.group(0) and rest.startswith(COMMON_AFTER_COMPANY):
            continue
        yield m.start(), m.end(), "org"
