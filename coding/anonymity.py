"""The anonymity guard: find real names in the notes and keep them out of everything published.

Interviewees were promised anonymity: the report names organisations only by pseudonym (A大学,
B機関) and quotes them as 国内国立大学. Names are found three ways:

* the project's ``anonymity.yml``: real names of interviewed organisations → their pseudonym, and
  names to always mask;
* GiNZA's named entities with a person / institution / company label;
* Sudachi's person-name tokens, and a place or proper noun directly followed by 大学 (the NER
  misses some foreign universities);

minus an allow-list (public bodies such as 特許庁, 文部科学省, AUTM; the pseudonyms themselves).
Every text written under ``outputs/`` (except ``outputs/cache/``, private working files) goes
through :meth:`Guard.apply`: a known real name becomes its pseudonym, any other name 〇〇.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .errors import CodingError
from .settings import load_section
from .transcripts import Transcript
from .yamlfile import YamlProblem, dup_keys, key_line, load_yaml

NAME_LABELS = frozenset({
    "Person", "School", "Company", "Company_Group", "Corporation_Other", "Organization_Other",
    "Research_Institute", "Public_Institution", "Political_Organization_Other", "Show_Organization",
    "Sports_Organization_Other", "Pro_Sports_Organization", "Family",
})
DEFAULT_ALLOW = (
    "特許庁", "文部科学省", "経済産業省", "内閣府", "科学技術振興機構", "JST", "NEDO", "INPIT", "NISTEP", "AUTM", "HESA",
    "HE-BCI", "Lens.org", "TLO", "TTO", "URA", "PCT", "WIPO", "USPTO", "EPO", "VC", "SU", "DB",
)
# Pseudonyms as the report writes them: A大学, B機関, G大学（私立）, 甲大学 ...
PSEUDONYM_RE = re.compile(r"^(?:[A-ZＡ-Ｚ]|[甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥])(?:大学|機関|社|工業大学)(?:（[^）]*）)?$")
GENERIC_UNIV = re.compile(r"^(?:国立|公立|私立|州立|工業|工科|海外|国内|米国|他|各|本|当|自|地方|上位|中位|一部の|多くの|日本の|米国の|欧州の|英国の|豪州の)+大学$")


class AnonymityError(CodingError):
    """A published output would carry a real name (raised in --strict mode)."""


@dataclass(frozen=True)
class Policy:
    real_names: Mapping[str, str] = field(default_factory=dict)  # real → pseudonym
    always_mask: tuple[str, ...] = ()
    allow: frozenset[str] = frozenset(DEFAULT_ALLOW)
    mask: str = "〇〇"
    labels: frozenset[str] = NAME_LABELS
    detect: bool = True  # run NER over the transcripts


@dataclass(frozen=True)
class AnonymityFile:
    """What ``anonymity.yml`` may hold (every key optional)."""

    real_names: Mapping[str, str] = field(default_factory=dict)  # real name → pseudonym
    always_mask: tuple[str, ...] = ()  # names to mask wherever they occur
    allow: tuple[str, ...] = ()  # flagged words that are not names of people or institutions
    mask: str = "〇〇"
    labels: tuple[str, ...] = ()  # GiNZA entity labels that count as names (default: NAME_LABELS)
    detect: bool = True  # search the notes with GiNZA's NER


def load_policy(project: Path | str, transcripts: Sequence[Transcript] = ()) -> Policy:
    """``anonymity.yml`` of the project (optional) merged with the defaults and the pseudonyms.
    Every problem (an unknown key, a value of the wrong type) is reported with its line."""
    path = Path(project) / "anonymity.yml"
    data = AnonymityFile()
    if path.exists():
        try:
            raw = load_yaml(path.read_text(encoding="utf-8-sig"))
        except YamlProblem as e:
            raise CodingError(f"{path}:{e.line}: {e.message}") from None
        except (OSError, UnicodeDecodeError) as e:
            raise CodingError(f"{path}: cannot read as UTF-8 text: {e}") from None
        if raw is not None and not isinstance(raw, dict):
            raise CodingError(f"{path}:1: expected keys {', '.join(f.name for f in fields(AnonymityFile))}")
        problems: list[str] = []
        for k in dup_keys(raw):
            problems.append(f"{path}:{key_line(raw, k)}: key '{k}' appears twice")
        data = load_section(AnonymityFile, raw, where="", name=str(path), line=1, problems=problems)
        if problems:
            raise CodingError(f"{path}: {len(problems)} problem(s)", problems)
    real = dict(data.real_names)
    allow = set(DEFAULT_ALLOW) | set(data.allow)
    allow |= {t.org for t in transcripts} | set(real.values())
    return Policy(
        real_names=real,
        always_mask=data.always_mask,
        allow=frozenset(allow),
        mask=data.mask,
        labels=frozenset(data.labels or NAME_LABELS),
        detect=data.detect,
    )


@dataclass(frozen=True)
class NameFinding:
    """A real name in a transcript: where, what, and how it was found."""

    transcript_id: str
    path: str
    line: int
    name: str
    source: str  # anonymity.yml | ner:<label> | tokens

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.name} ({self.source})"


def allowed(name: str, policy: Policy) -> bool:
    n = name.strip()
    if not n or len(n) < 2 or n in policy.allow:
        return True
    if PSEUDONYM_RE.match(n) or GENERIC_UNIV.match(n):
        return True
    return any(n == a or (a in n and len(n) - len(a) <= 1) for a in policy.allow if len(a) >= 2)


def _known(t: Transcript, policy: Policy) -> Iterable[NameFinding]:
    for name in list(policy.real_names) + list(policy.always_mask):
        for m in re.finditer(re.escape(name), t.body):
            yield NameFinding(t.id, str(t.path), t.line_of(m.start()), name, "anonymity.yml")


HONORIFICS = ("さん", "氏", "教授", "先生", "様", "准教授", "博士", "部長", "課長", "室長", "センター長", "理事")
INSTITUTION_SUFFIX = ("大学", "大学院", "研究所", "研究機構", "株式会社", "銀行", "財団", "病院", "製薬", "工業", "商事", "電機", "University", "Institute")


def _proper(ent) -> bool:
    """An entity counts as a name only if Sudachi tags part of it as a proper noun.

    GiNZA's NER also labels common nouns (技術移転機関, 法務) as organisations; requiring a 固有名詞
    token keeps those out. A place name alone (スコットランド) is not a person or an institution
    unless an institution word follows it (ペンシルベニア大学).
    """
    tags = [t.tag_ for t in ent]
    proper = [g for g in tags if "固有名詞" in g]
    if not proper:
        return False
    if all("地名" in g for g in proper):
        return ent.text.endswith(INSTITUTION_SUFFIX)
    return True


def _from_doc(t: Transcript, para, doc, policy: Policy) -> Iterable[NameFinding]:
    for ent in doc.ents:
        if ent.label_ in policy.labels and _proper(ent) and not allowed(ent.text, policy):
            yield NameFinding(t.id, str(t.path), t.line_of(para.start + ent.start_char), ent.text, f"ner:{ent.label_}")
    toks = list(doc)
    i = 0
    while i < len(toks):
        tok = toks[i]
        tag = tok.tag_
        if "人名" in tag:  # Sudachi: 名詞-固有名詞-人名-姓/名
            j = i
            while j + 1 < len(toks) and "人名" in toks[j + 1].tag_:
                j += 1
            name = doc[i : j + 1].text
            # a lone surname-like token (見方, マイルストーン) is too often a common word: take it
            # only as 姓+名 or before an honorific
            honorific = j + 1 < len(toks) and toks[j + 1].text in HONORIFICS
            if (j > i or honorific) and len(name) >= 2 and not allowed(name, policy):
                yield NameFinding(t.id, str(t.path), t.line_of(para.start + tok.idx), name, "tokens:人名")
            i = j + 1
            continue
        if "固有名詞" in tag and i + 1 < len(toks) and toks[i + 1].text.startswith("大学"):
            j = i
            while j - 1 >= 0 and ("固有名詞" in toks[j - 1].tag_ or toks[j - 1].text in ("・", "＝")):
                j -= 1
            name = doc[j : i + 2].text
            if not allowed(name, policy):
                yield NameFinding(t.id, str(t.path), t.line_of(para.start + toks[j].idx), name, "tokens:固有名詞+大学")
        i += 1


def find_names(transcripts: Sequence[Transcript], policy: Policy, docs_by_id: Mapping[str, Sequence] | None = None) -> list[NameFinding]:
    """Every real name in the transcripts (known names always; NER when ``docs_by_id`` is given)."""
    out: list[NameFinding] = []
    seen = set()
    for t in transcripts:
        found = list(_known(t, policy))
        if docs_by_id is not None and t.id in docs_by_id:
            for para, doc in zip(t.paragraphs, docs_by_id[t.id]):
                found.extend(_from_doc(t, para, doc, policy))
        for f in found:
            key = (f.transcript_id, f.line, f.name)
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


class Guard:
    """Replaces real names in outgoing text; remembers what it replaced."""

    def __init__(self, policy: Policy, names: Iterable[str] = ()):
        self.policy = policy
        self.replacements: dict[str, str] = {}
        for n in names:
            if n not in policy.real_names:
                self.replacements[n] = policy.mask
        for n in policy.always_mask:
            self.replacements[n] = policy.mask
        self.replacements.update(policy.real_names)
        ordered = sorted(self.replacements, key=len, reverse=True)
        self._re = re.compile("|".join(re.escape(n) for n in ordered)) if ordered else None
        self.masked: Counter[str] = Counter()

    def apply(self, text: str) -> str:
        if self._re is None or not text:
            return text

        def sub(m: re.Match) -> str:
            self.masked[m.group(0)] += 1
            return self.replacements[m.group(0)]

        return self._re.sub(sub, text)

    def apply_data(self, obj):
        """``obj`` (dicts, lists, strings) with :meth:`apply` on every string value."""
        if isinstance(obj, str):
            return self.apply(obj)
        if isinstance(obj, list):
            return [self.apply_data(v) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self.apply_data(v) for v in obj)
        if isinstance(obj, dict):
            return {k: self.apply_data(v) for k, v in obj.items()}
        return obj

    def check(self, text: str) -> list[str]:
        """Names that ``text`` carries (for --strict)."""
        if self._re is None or not text:
            return []
        return sorted(set(self._re.findall(text)))

    def summary(self) -> str:
        if not self.masked:
            return "anonymity: nothing to mask"
        parts = [f"{n} → {self.replacements[n]} ({k}×)" for n, k in self.masked.most_common()]
        return "anonymity: masked " + "; ".join(parts)
