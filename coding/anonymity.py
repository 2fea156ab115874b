"""The anonymity guard: find real names in the notes and keep them out of everything published.

Interviewees were promised anonymity: the report names organisations only by pseudonym (A大学,
B機関) and quotes them as 国内国立大学. Names are found several ways:

* the project's ``anonymity.yml``: real names of interviewed organisations → their pseudonym,
  names to always mask, and further written forms of them (``variants``);
* GiNZA's named entities with a person / institution / company label, and Sudachi's person-name
  and organisation-name tokens, a place or proper noun directly followed by 大学 or 大;
* names in Latin letters or kana the NER does not see (Stanford University, Hitachi, Ltd.,
  Mr. Suzuki, Taro Yamada, 株式会社ヒタチ…), found on the text folded to NFKC (so full-width
  Ｔｏｈｏｋｕ and half-width ﾄｳﾎｸ are found too);
* every other written form of a name found (:func:`coding.names.variants`: 東北大学 → 東北大,
  東北 大学, トウホク大学, Tohoku University …), wherever it occurs;
* the ``org`` and ``group`` values of the front matter, which must be pseudonyms too;

minus an allow-list (public bodies such as 特許庁, 文部科学省, AUTM; the pseudonyms themselves).
Every text published under ``outputs/`` passes :meth:`Guard.apply` *before* any format escapes
it: a known real name becomes its pseudonym, any other name 〇〇, in every written form.

The NER runs paragraph chunk by chunk (memory stays flat whatever the size of a transcript) and
what it finds is cached per transcript under ``outputs/cache/names/``.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from .errors import CodingError
from .files import read_framed, sha1, write_framed
from .names import fold, folded, kana_names, latin_names, pattern, variants
from .nlp import NlpSettings, load_nlp, quiet_worker, worker_pool
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
    "R&D", "M&A", "Q&A", "B&B",
)
# Pseudonyms as the report writes them: A大学, B機関, G大学（私立）, 甲大学, 米国R大学, 丙工業大学 ...
PSEUDONYM_RE = re.compile(r"^(?:仮称)?(?:米国|英国|豪州|独国|仏国|韓国|欧州|台湾|中国|国内|海外|[ァ-ヴー]{2,8})?"
                          r"(?:[A-ZＡ-Ｚ][0-9０-９]{0,2}|[甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥])"
                          r"(?:国立|公立|私立|州立|工業|工科|医科|市立|県立|府立|都立|道立)?"
                          r"(?:大学|機関|社|高専|研究所|財団|研究財団|研究機構|機構|大学院|技術移転機関|TLO|ＴＬＯ)"
                          r"(?:（[^）]*）|\([^)]*\))?$")
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
    variants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name → more written forms of it


@dataclass(frozen=True)
class AnonymityFile:
    """What ``anonymity.yml`` may hold (every key optional)."""

    real_names: Mapping[str, str] = field(default_factory=dict)  # real name → pseudonym
    always_mask: tuple[str, ...] = ()  # names to mask wherever they occur
    allow: tuple[str, ...] = ()  # flagged words that are not names of people or institutions
    mask: str = "〇〇"
    labels: tuple[str, ...] = ()  # GiNZA entity labels that count as names (default: NAME_LABELS)
    detect: bool = True  # search the notes with GiNZA's NER
    variants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # a name → other forms of it (romaji, short)


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
    allow |= {t.org for t in transcripts if PSEUDONYM_RE.match(t.org)} | set(real.values())
    return Policy(
        real_names=real,
        always_mask=data.always_mask,
        allow=frozenset(allow),
        mask=data.mask,
        labels=frozenset(data.labels or NAME_LABELS),
        detect=data.detect,
        variants=dict(data.variants),
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


Reading = Callable[[str], Sequence[tuple[str, str]]]  # text → (surface, katakana reading) of its words


@dataclass(frozen=True)
class Candidate:
    """A name where a detector saw one: body offsets, the words, and the detector."""

    start: int
    end: int
    name: str
    source: str


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


def doc_candidates(offset: int, doc, labels: frozenset[str] = NAME_LABELS) -> list[Candidate]:
    """Names in one parsed chunk of a paragraph (``offset``: where the chunk starts in the body):
    named entities, person-name tokens, proper nouns before 大学/大, organisation-name tokens."""
    out = []
    for ent in doc.ents:
        if ent.label_ in labels and _proper(ent):
            out.append(Candidate(offset + ent.start_char, offset + ent.end_char, ent.text, f"ner:{ent.label_}"))
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
            if (j > i or honorific) and len(name) >= 2:
                out.append(Candidate(offset + tok.idx, offset + toks[j].idx + len(toks[j].text), name, "tokens:人名"))
            i = j + 1
            continue
        if "固有名詞" in tag and "組織" in tag and len(tok.text) >= 2:
            out.append(Candidate(offset + tok.idx, offset + tok.idx + len(tok.text), tok.text, "tokens:組織名"))
        if "固有名詞" in tag and i + 1 < len(toks) and (toks[i + 1].text.startswith("大学") or toks[i + 1].text == "大"):
            j = i
            while j - 1 >= 0 and ("固有名詞" in toks[j - 1].tag_ or toks[j - 1].text in ("・", "＝")):
                j -= 1
            nxt = toks[i + 1]
            out.append(Candidate(offset + toks[j].idx, offset + nxt.idx + len(nxt.text), doc[j : i + 2].text,
                                 f"tokens:固有名詞+{nxt.text}"))
        i += 1
    return out


NAMES_FORMAT = "coding-names/2"
NER_PIECE = 1500  # characters per piece the NER reads: its memory grows with the text of a batch
NER_BATCH = 4
NER_OVERLAP = 40  # a piece cut inside a sentence overlaps the next, so no name is cut in two unseen


def ner_pieces(text: str, limit: int = NER_PIECE) -> list[tuple[str, int]]:
    """``(piece, offset)``: ``text`` in pieces of at most ``limit`` characters, cut after a
    sentence end where there is one, else with an overlap of ``NER_OVERLAP`` characters."""
    out = []
    pos = 0
    n = len(text)
    while pos < n:
        end = min(n, pos + limit)
        if end == n:
            out.append((text[pos:end], pos))
            break
        cut = max(text.rfind(c, pos + limit // 2, end) for c in "。！？!?\n")
        if cut >= 0:
            out.append((text[pos:cut + 1], pos))
            pos = cut + 1
        else:
            out.append((text[pos:end], pos))
            pos = end - NER_OVERLAP
    return out


def _scan(nlp, t: Transcript) -> list[Candidate]:
    """What the NER and the name tokens find in one transcript, a small piece of a paragraph at a
    time: a parsed piece is dropped as soon as its names are read (memory stays flat whatever the
    size of a transcript or of one line)."""

    def pieces():
        for para in t.paragraphs:
            for piece, off in ner_pieces(para.text):
                yield piece, para.start + off

    out: dict[tuple[int, int, str], Candidate] = {}
    for doc, off in nlp.pipe(pieces(), as_tuples=True, batch_size=NER_BATCH):
        for c in doc_candidates(off, doc):
            out.setdefault((c.start, c.end, c.source), c)
    return list(out.values())


_SCAN_NLP = None
_SCAN_TODO: list[Transcript] = []


def _scan_init(settings: NlpSettings, transcripts: list[Transcript]) -> None:
    quiet_worker()  # Ctrl+C is the parent's to handle
    global _SCAN_NLP, _SCAN_TODO
    _SCAN_NLP = load_nlp(settings)
    _SCAN_TODO = transcripts


def _scan_worker(i: int) -> list[tuple]:
    """The candidates of the i-th transcript to scan (the workers get the texts when they start,
    so a task is an index: no task can fill the pipe and hang the pool's clean-up on Ctrl+C)."""
    return [(c.start, c.end, c.name, c.source) for c in _scan(_SCAN_NLP, _SCAN_TODO[i])]


def ner_scan(transcripts: Sequence[Transcript], settings: NlpSettings, folder: Path, *, jobs: int = 1,
             writable: bool = True, progress: Callable[[Transcript], None] | None = None) -> dict[str, list[Candidate]]:
    """NER candidates per transcript id, from ``folder`` (one small cache file per transcript text
    and model) or by scanning now (``jobs`` processes); ``writable=False`` writes no cache."""
    base = settings.key()
    out: dict[str, list[Candidate]] = {}
    todo = []
    for t in transcripts:
        key = sha1("\x00".join([NAMES_FORMAT, base, t.content_hash]))
        data = read_framed(folder / f"{key}.json", NAMES_FORMAT, key)
        try:
            out[t.id] = [Candidate(int(a), int(b), str(n), str(s)) for a, b, n, s in data]
            if progress:
                progress(t)
        except (TypeError, ValueError):
            todo.append((t, key))
    if not todo:
        return out

    def done(t: Transcript, key: str, cands: list[tuple]) -> None:
        out[t.id] = [Candidate(*c) for c in cands]
        if writable:
            write_framed(folder / f"{key}.json", NAMES_FORMAT, key, [list(c) for c in cands])
        if progress:
            progress(t)

    if jobs > 1 and len(todo) > 1:
        with worker_pool(min(jobs, len(todo)), _scan_init, (settings, [t for t, _ in todo])) as pool:
            for (t, key), cands in zip(todo, pool.imap(_scan_worker, range(len(todo)))):
                done(t, key, cands)
    else:
        nlp = load_nlp(settings)
        for t, key in todo:
            done(t, key, [(c.start, c.end, c.name, c.source) for c in _scan(nlp, t)])
    return out


def text_candidates(t: Transcript) -> list[Candidate]:
    """Names in Latin letters or kana (on the folded body), and front-matter values that are not
    pseudonyms."""
    text, where = fold(t.body)
    out = []
    for finder, source in ((latin_names, "latin"), (kana_names, "kana")):
        for a, b, kind in finder(text):
            s, e = where[a], where[b] if b < len(where) else len(t.body)
            out.append(Candidate(s, e, t.body[s:e].strip(), f"{source}:{kind}"))
    return out


def front_matter_findings(t: Transcript, policy: Policy) -> list[NameFinding]:
    """``org`` and ``group`` values that look like real names (a pseudonym is a letter or 甲乙…
    and a kind: A大学, 米国R大学; a roster group names a kind: 知財収入上位の国立大学)."""
    out = []
    lines = t.path.read_text(encoding="utf-8", errors="replace").split("\n")[:200] if t.path.exists() else []

    def line_of(key: str) -> int:
        return next((i + 1 for i, x in enumerate(lines) if re.match(rf"^\s*{key}\s*:", x)), 1)

    for key in ("org", "group"):
        value = t.attributes.get(key, "").strip()
        if not value or value in policy.allow or PSEUDONYM_RE.match(value) or GENERIC_UNIV.match(value):
            continue
        looks = (value.endswith(INSTITUTION_SUFFIX) and key == "org") or any(True for _ in latin_names(folded(value)))
        looks = looks or any(True for _ in kana_names(folded(value))) or value in policy.real_names
        if looks:
            out.append(NameFinding(t.id, str(t.path), line_of(key), value, f"front matter {key} (not a pseudonym)"))
    return out


def _known_forms(policy: Policy, reading: Reading | None) -> dict[str, str]:
    """folded form → the name it is a form of, for the names anonymity.yml lists."""
    out: dict[str, str] = {}
    for name in list(policy.real_names) + list(policy.always_mask) + list(policy.variants):
        for form in variants(name, reading) + [folded(v) for v in policy.variants.get(name, ())]:
            out.setdefault(form, name)
    return out


def search_forms(t: Transcript, forms: Mapping[str, str]) -> list[tuple[int, int, str]]:
    """``(start, end, name)`` of every written form of the names in ``forms`` in the body."""
    if not forms:
        return []
    text, where = fold(t.body)
    rx = re.compile("|".join(f"(?:{_bounded(f)})" for f in sorted(forms, key=len, reverse=True)), re.I)
    out = []
    low = {f.lower(): n for f, n in forms.items()}
    for m in rx.finditer(text):
        key = re.sub(r"[ \t\u3000]+", " ", m.group(0)).lower()
        name = low.get(key) or low.get(key.replace(" ", "")) or next(iter(forms.values()))
        out.append((where[m.start()], where[m.end()] if m.end() < len(where) else len(t.body), name))
    return out


def find_names(transcripts: Sequence[Transcript], policy: Policy, ner: Mapping[str, Sequence[Candidate]] | None = None,
               reading: Reading | None = None) -> list[NameFinding]:
    """Every real name in the transcripts (see the module docstring); ``ner``: what the NER found
    per transcript id (None: no NER); ``reading``: Sudachi readings, for the romaji forms."""
    out: list[NameFinding] = []
    seen = set()

    def add(f: NameFinding) -> None:
        key = (f.transcript_id, f.line, f.name)
        if key not in seen:
            seen.add(key)
            out.append(f)

    known = _known_forms(policy, reading)
    for t in transcripts:
        for s, _, name in search_forms(t, known):
            add(NameFinding(t.id, str(t.path), t.line_of(s), t.body[s:_].strip() or name, "anonymity.yml"))
    found: dict[str, str] = {}  # a name → how it was first found
    for t in transcripts:
        for f in front_matter_findings(t, policy):
            add(f)
        for c in list((ner or {}).get(t.id, ())) + text_candidates(t):
            if c.source.startswith("ner:") and c.source[4:] not in policy.labels:
                continue
            if not allowed(c.name, policy) and not allowed(folded(c.name), policy):
                add(NameFinding(t.id, str(t.path), t.line_of(c.start), c.name, c.source))
                found.setdefault(c.name, c.source)
    # every other written form of a name found anywhere (東北大学 → 東北大, Tohoku University …)
    forms = {}
    for name in found:
        for form in variants(name, reading)[1:]:
            if not allowed(form, policy):
                forms.setdefault(form, name)
    for t in transcripts:
        for s, e, name in search_forms(t, forms):
            add(NameFinding(t.id, str(t.path), t.line_of(s), t.body[s:e].strip(), f"form of {name}"))
    return out


def _key(form: str) -> str:
    return re.sub(r"[ \t\u3000]+", "", form).lower()


def _bounded(form: str) -> str:
    """The pattern of a form that does not match inside a longer Latin word (Yamada in Yamadas)
    nor a short university form inside another word (東北大 in 東北大会)."""
    rx = pattern(form)
    if form[:1].isascii() and form[:1].isalpha():
        rx = "(?<![A-Za-z])" + rx
    if form[-1:].isascii() and form[-1:].isalnum():
        rx += "(?![A-Za-z])"
    if form.endswith("大") and not form.endswith("大学"):
        rx += "(?![会型量学])"
    return rx


class Guard:
    """Replaces real names in outgoing text, in every written form; remembers what it replaced.

    ``names``: names found in the notes (masked with ``policy.mask``); anonymity.yml's real names
    become their pseudonym, its ``always_mask`` names the mask. Matching is on the text folded to
    NFKC, letter case ignored, spaces between the characters of a Japanese name allowed.
    """

    def __init__(self, policy: Policy, names: Iterable[str] = (), reading: Reading | None = None):
        self.policy = policy
        repl: dict[str, str] = {}

        def put(name: str, to: str, extra: Iterable[str] = ()) -> None:
            for form in variants(name, reading) + [folded(x) for x in extra]:
                repl[_key(form)] = to
                forms[_key(form)] = form

        forms: dict[str, str] = {}
        for n in names:
            put(n, policy.real_names.get(n, policy.mask))
        for n in policy.always_mask:
            put(n, policy.mask, policy.variants.get(n, ()))
        for n, extra in policy.variants.items():
            put(n, policy.real_names.get(n, policy.mask), extra)
        for n, pseudonym in policy.real_names.items():
            put(n, pseudonym, policy.variants.get(n, ()))
        self._repl = repl
        self.replacements: dict[str, str] = {}  # what was replaced (as written) → by what
        ordered = sorted(forms.values(), key=len, reverse=True)
        self._re = re.compile("|".join(f"(?:{_bounded(f)})" for f in ordered), re.I) if ordered else None
        self.masked: Counter[str] = Counter()

    def apply(self, text: str) -> str:
        if self._re is None or not text:
            return text
        f, where = fold(text)
        out, pos = [], 0
        for m in self._re.finditer(f):
            s, e = where[m.start()], where[m.end()] if m.end() < len(where) else len(text)
            if s < pos:
                continue
            original = text[s:e]
            to = self._repl.get(_key(m.group(0)), self.policy.mask)
            self.masked[original] += 1
            self.replacements[original] = to
            out.append(text[pos:s])
            out.append(to)
            pos = e
        if not out:
            return text
        out.append(text[pos:])
        return "".join(out)

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
        """Names that ``text`` carries, as written (for --strict)."""
        if self._re is None or not text:
            return []
        f, where = fold(text)
        return sorted({text[where[m.start()]:where[m.end()] if m.end() < len(where) else len(text)] for m in self._re.finditer(f)})

    def summary(self) -> str:
        if not self.masked:
            return "anonymity: nothing to mask"
        parts = [f"{n} → {self.replacements[n]} ({k}×)" for n, k in self.masked.most_common()]
        return "anonymity: masked " + "; ".join(parts)
