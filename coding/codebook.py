"""Stage 2: load and validate ``codebook.yml`` — codes, their patterns, links and settings.

Loading collects every problem (``codebook.yml:LINE``, the code id and what is wrong) and raises
one :class:`CodebookError`; problems that should not stop a run (a ref the report does not know,
a pattern that can never match) are returned as warnings instead. Settings become the typed
:class:`coding.settings.Settings` (a misspelt key anywhere is an error with its line); patterns
are compiled into :class:`coding.rules.Rule` trees.

Schema (see docs/formats.md and README "The codebook"):

    regions: [日本, 米国, 諸外国等]
    attribution: {order: [...], countries: {...}, styles: {short: {...}, long: {...}}}
    tables: {...}
    tagger: {skip: ..., regions: ..., learned: ...}
    denial: {cues: [...]}
    codes:
      - id: 課題①
        kind: challenge
        label: ...
        parent: 課題
        ref: 課題①
        definition: ...
        patterns:
          - {id: expo, all: [{any: [展示会, 見本市]}, {any: [成約, 契約]}], score: 0.8}
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from .errors import CodebookError
from .rules import RULE_KEYS, Rule, compile_rule
from .settings import Settings, as_data, did_you_mean, load_settings
from .yamlfile import YamlProblem, dup_keys, key_line, line_of, load_yaml, strip_lines

KINDS = ("group", "phase", "theme", "finding", "challenge", "practice", "case", "outcome")
# The families evaluation and the learned suggester know (a finding counts as its theme).
FAMILIES = ("phase", "theme", "challenge", "practice", "case")
CORE_KEYS = ("id", "kind", "label", "parent", "definition", "ref", "patterns", "codable", "deny")
# attributes the tables, networks and case sheets read
ATTRIBUTE_KEYS = (
    "table", "process", "phase", "region", "counter", "summary", "latent", "problem",
    "answers", "cases", "practice", "country", "org_kind", "no_quote_note", "note_order",
    "background", "background_quote",
)
CODE_KEYS = frozenset(CORE_KEYS + ATTRIBUTE_KEYS)
PATTERN_KEYS = RULE_KEYS | {"id", "score"}
DEFAULT_REFS = Path(__file__).with_name("data") / "report_refs.yml"


@dataclass(frozen=True)
class Pattern:
    """One tagger rule of a code."""

    id: str
    code_id: str
    rule: Rule
    score: float
    line: int

    @property
    def qualified_id(self) -> str:
        return f"{self.code_id}#{self.id}"


@dataclass(frozen=True)
class Code:
    id: str
    kind: str
    label: str
    parent: str | None
    definition: str
    ref: str | None
    line: int
    patterns: tuple[Pattern, ...] = ()
    attrs: Mapping[str, Any] = field(default_factory=dict)
    codable: bool = True
    deny: bool = False  # suppress suggestions in sentences that deny or call the problem solved

    def get(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)


@dataclass(frozen=True)
class Codebook:
    path: Path
    codes: Mapping[str, Code]
    settings: Settings = Settings()
    warnings: tuple[str, ...] = ()

    # ------------------------------------------------------------ queries
    def __contains__(self, code_id: str) -> bool:
        return code_id in self.codes

    def __getitem__(self, code_id: str) -> Code:
        return self.codes[code_id]

    def of_kind(self, *kinds: str) -> list[Code]:
        return [c for c in self.codes.values() if c.kind in kinds]

    def children(self, code_id: str) -> list[Code]:
        return [c for c in self.codes.values() if c.parent == code_id]

    def ancestors(self, code_id: str) -> list[Code]:
        out = []
        seen = set()
        cur = self.codes.get(code_id)
        while cur is not None and cur.parent and cur.parent not in seen:
            seen.add(cur.parent)
            cur = self.codes.get(cur.parent)
            if cur is not None:
                out.append(cur)
        return out

    def effective_ref(self, code_id: str) -> str:
        """The code's ref, or that of its nearest ancestor that has one; '' if none."""
        c = self.codes.get(code_id)
        if c is None:
            return ""
        if c.ref:
            return c.ref
        for a in self.ancestors(code_id):
            if a.ref:
                return a.ref
        return ""

    def family(self, code_id: str) -> str:
        """The family a code belongs to: phase, theme (themes and findings), challenge, ..."""
        kind = self.codes[code_id].kind
        return "theme" if kind == "finding" else kind

    def eval_code(self, code_id: str) -> str | None:
        """The code a coding counts as when codings are compared or learned from: a finding
        counts as its theme; groups, a project's own kinds and unknown codes: None."""
        c = self.codes.get(code_id)
        while c is not None and c.kind == "finding":
            c = self.codes.get(c.parent) if c.parent else None
        if c is None or c.kind not in FAMILIES:
            return None
        return c.id

    @property
    def regions(self) -> list[str]:
        return list(self.settings.regions)

    @property
    def patterns(self) -> list[Pattern]:
        return [p for c in self.codes.values() for p in c.patterns]

    def needs(self) -> set[str]:
        """Token attributes the patterns use (NORM always; POS/TAG/DEP/... only if asked)."""
        attrs = {"NORM"}
        for p in self.patterns:
            for tok in p.rule.token_specs():
                attrs.update(k.upper() for k in tok)
        return attrs

    def with_codes(self, keep) -> "Codebook":
        """The same codebook restricted to the codes ``keep`` names (for re-tagging a few)."""
        from dataclasses import replace

        keep = set(keep)
        return replace(self, codes={k: c for k, c in self.codes.items() if k in keep})


# ---------------------------------------------------------------- loading
def load_known_refs(path: Path | None = None) -> dict[str, str]:
    """ref → kind for every item of the report's reference list."""
    return dict(_known_refs(str(Path(path or DEFAULT_REFS).resolve())))


@lru_cache(maxsize=8)
def _known_refs(path: str) -> tuple[tuple[str, str], ...]:
    data = load_yaml(Path(path).read_text(encoding="utf-8")) or {}
    out = []
    for kind, items in strip_lines(data).items():
        for it in items or []:
            out.append((str(it["ref"]), kind.rstrip("s")))
    return tuple(out)


def load_codebook(path: Path | str) -> Codebook:
    """Load and validate a codebook; raise :class:`CodebookError` listing every problem."""
    path = Path(path)
    name = path.name if path.parent == Path(".") else str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CodebookError(f"{name}: not found. Every project needs a codebook.yml (python cli.py init makes one).") from None
    except UnicodeDecodeError:
        raise CodebookError(f"{name}: not UTF-8. Save the codebook as UTF-8.") from None
    except OSError as e:
        raise CodebookError(f"{name}: cannot read: {e.strerror}") from None
    try:
        raw = load_yaml(text)
    except YamlProblem as e:
        raise CodebookError(f"{name}:{e.line}: {e.message}") from None
    if not isinstance(raw, dict):
        raise CodebookError(f"{name}:1: the codebook must be a mapping with a 'codes:' list")
    return build_codebook(raw, path=path, name=name)


def build_codebook(raw: Mapping[str, Any], *, path: Path, name: str) -> Codebook:
    problems: list[str] = []
    warnings: list[str] = []

    def prob(line: int, code_id: str | None, msg: str) -> None:
        problems.append(f"{name}:{line}: {code_id + ': ' if code_id else ''}{msg}")

    def warn(line: int, code_id: str | None, msg: str) -> None:
        warnings.append(f"{name}:{line}: {code_id + ': ' if code_id else ''}{msg}")

    for k in dup_keys(raw):
        prob(key_line(raw, k), None, f"top-level key '{k}' appears twice")
    settings, setting_problems = load_settings(raw, name=name)
    problems.extend(setting_problems)
    regions = list(settings.regions)
    kinds = tuple(KINDS) + tuple(settings.kinds)
    try:
        known_refs = load_known_refs(path.parent / settings.refs_file if settings.refs_file else None)
    except (OSError, YamlProblem, KeyError, TypeError, AttributeError) as e:
        prob(key_line(raw, "refs_file"), None, f"cannot read refs_file '{settings.refs_file}': {e}")
        known_refs = {}

    raw_codes = raw.get("codes")
    if not isinstance(raw_codes, list):
        prob(key_line(raw, "codes", line_of(raw)), None, "'codes' must be a list of codes")
        raw_codes = []
    codes: dict[str, Code] = {}
    first_line: dict[str, int] = {}
    for entry in raw_codes:
        if not isinstance(entry, dict):
            prob(1, None, f"a code must be a mapping, got {entry!r}")
            continue
        line = line_of(entry)
        cid = entry.get("id")
        if cid is None or str(cid).strip() == "":
            prob(line, None, "code without 'id'")
            continue
        cid = str(cid)
        for k in dup_keys(entry):
            prob(key_line(entry, k, line), cid, f"key '{k}' appears twice")
        if cid in codes:
            prob(line, cid, f"duplicate code id (first defined at line {first_line[cid]})")
            continue
        for k in entry:
            if isinstance(k, str) and k.startswith("__"):
                continue
            if k not in CODE_KEYS:
                prob(key_line(entry, k, line), cid, f"unknown key '{k}'{did_you_mean(k, CODE_KEYS)}")
        kind = entry.get("kind")
        if kind not in kinds:
            prob(key_line(entry, "kind", line), cid, f"kind '{kind}' is not one of {', '.join(kinds)}{did_you_mean(kind, kinds)}")
        label = entry.get("label")
        if not label:
            prob(line, cid, "no 'label'")
        ref = entry.get("ref")
        if ref is not None:
            ref = str(ref)
            if ref not in known_refs:
                warn(key_line(entry, "ref", line), cid, f"ref '{ref}' is not an item of the report (fine for a project's own code)")
        if kind == "finding" and entry.get("region") not in regions:
            prob(key_line(entry, "region", line), cid, f"finding region '{entry.get('region')}' is not one of {', '.join(regions)}")
        patterns = _patterns(entry, cid, line, prob, warn)
        attrs = {k: strip_lines(v) for k, v in entry.items() if k in ATTRIBUTE_KEYS}
        codes[cid] = Code(
            id=cid,
            kind=str(kind),
            label=str(label or cid),
            parent=str(entry["parent"]) if entry.get("parent") is not None else None,
            definition=str(entry.get("definition") or ""),
            ref=ref,
            line=line,
            patterns=tuple(patterns),
            attrs=attrs,
            codable=bool(entry.get("codable", kind != "group")),
            deny=bool(entry.get("deny", kind == "challenge")),
        )
        first_line[cid] = line
        if not entry.get("definition") and kind != "group":
            warn(line, cid, "no 'definition': coders need one to decide")

    _check_links(codes, prob)
    _check_cross(settings, raw, codes, kinds, prob)
    if problems:
        raise CodebookError(f"{name}: {len(problems)} problem(s)", problems)
    return Codebook(path=path, codes=codes, settings=settings, warnings=tuple(warnings))


def _patterns(entry: Mapping, cid: str, line: int, prob, warn) -> list[Pattern]:
    patterns = []
    pids: set[str] = set()
    raw_patterns = entry.get("patterns") or []
    if not isinstance(raw_patterns, list):
        prob(key_line(entry, "patterns", line), cid, "'patterns' must be a list")
        return []
    for i, pat in enumerate(raw_patterns):
        pline = line_of(pat, line)
        if isinstance(pat, str):
            pat = {"id": f"p{i + 1}", "phrase": pat}
        if not isinstance(pat, dict):
            prob(pline, cid, f"pattern {i + 1} must be a mapping or a phrase")
            continue
        pid = str(pat.get("id") or f"p{i + 1}")
        if pid in pids:
            prob(pline, cid, f"duplicate pattern id '{pid}'")
        pids.add(pid)
        for k in pat:
            if isinstance(k, str) and k.startswith("__"):
                continue
            if k not in PATTERN_KEYS:
                prob(pline, cid, f"pattern '{pid}': unknown key '{k}'{did_you_mean(k, PATTERN_KEYS)} (use any/all/none/phrase/tokens/near)")
        body = {k: strip_lines(v) for k, v in pat.items() if k in RULE_KEYS}
        if not body:
            prob(pline, cid, f"pattern '{pid}' has no rule (any/all/none/phrase/tokens/near)")
            continue
        rule, msgs = compile_rule(body, key=f"{cid}#{pid}")
        for msg in msgs:
            prob(pline, cid, f"pattern '{pid}': {msg}")
        score = pat.get("score", 0.7)
        if not isinstance(score, (int, float)) or isinstance(score, bool) or not 0 <= score <= 1:
            prob(pline, cid, f"pattern '{pid}': score must be a number between 0 and 1")
            score = 0.5
        if rule is None:
            continue
        if not rule.can_match():
            warn(pline, cid, f"pattern '{pid}' can never match (it only excludes, or an 'all' of nothing)")
        patterns.append(Pattern(pid, cid, rule, float(score), pline))
    return patterns


def _check_links(codes: Mapping[str, Code], prob) -> None:
    """Parents exist and do not loop; practice → cases / answers, case → practice / background and
    outcome → cases name codes of the right kind."""
    for c in codes.values():
        if c.parent is not None and c.parent not in codes:
            prob(c.line, c.id, f"unknown parent '{c.parent}'")
        for key, want in (("answers", "challenge"), ("cases", "case"), ("practice", "practice"), ("background", "challenge")):
            val = c.get(key)
            if val is None:
                continue
            for target in val if isinstance(val, list) else [val]:
                if str(target) not in codes:
                    prob(c.line, c.id, f"'{key}' names unknown code '{target}'")
                elif codes[str(target)].kind != want:
                    prob(c.line, c.id, f"'{key}' must name {want} codes; '{target}' is a {codes[str(target)].kind}")
        # a case sheet's 背景課題: the challenge (background) and words of its coded quote
        quote = c.get("background_quote")
        if (c.get("background") is not None or quote is not None) and c.kind != "case":
            prob(c.line, c.id, "'background' and 'background_quote' belong to case codes (their sheet's 背景課題)")
        if quote is not None and not (isinstance(quote, str) and quote.strip() or isinstance(quote, list) and quote
                                      and all(isinstance(q, str) and q.strip() for q in quote)):
            prob(c.line, c.id, "'background_quote' must be words of the coded passage to quote, or a list of them")
    for c in codes.values():
        seen = {c.id}
        cur = c
        while cur.parent and cur.parent in codes:
            if cur.parent in seen:
                prob(c.line, c.id, "parent chain loops back to itself")
                break
            seen.add(cur.parent)
            cur = codes[cur.parent]


def _check_cross(settings: Settings, raw: Mapping, codes: Mapping[str, Code], kinds, prob) -> None:
    """Settings that name other settings, regions, kinds or codes."""
    styles = settings.attribution.styles
    raw_tables = raw.get("tables") if isinstance(raw.get("tables"), list) else []
    seen: dict[str, str] = {}
    ids: dict[str, int] = {}
    for i, spec in enumerate(settings.tables or ()):
        line = line_of(raw_tables[i]) if i < len(raw_tables) else key_line(raw, "tables")
        where = f"tables: {spec.id or spec.type}"
        if spec.type != "comparison":
            if spec.type in seen:
                prob(line, None, f"{where}: a study prints one {spec.type} table (also {seen[spec.type]})")
            seen[spec.type] = spec.id or spec.type
        for r in spec.regions:
            if r not in settings.regions:
                prob(line, None, f"{where}: '{r}' is not one of the regions ({', '.join(settings.regions)})")
        for t in spec.themes:
            if t not in codes or codes[t].kind != "theme":
                prob(line, None, f"{where}: '{t}' is not a theme of the codebook")
        if spec.style is not None and spec.style not in styles:
            prob(line, None, f"{where}: unknown attribution style '{spec.style}'"
                 + (f" (styles: {', '.join(styles)})" if styles else " (the codebook defines no attribution styles)"))
        if spec.type == "challenges" and spec.kind not in kinds:
            prob(line, None, f"{where}: unknown code kind '{spec.kind}'{did_you_mean(spec.kind, kinds)}")
        if spec.id:
            if spec.id in ids:
                prob(line, None, f"{where}: the id '{spec.id}' is also the id of the table at line {ids[spec.id]}")
            ids.setdefault(spec.id, line)
    home = settings.case_sheets.home
    if home is not None and home not in settings.regions:
        sheets = raw.get("case_sheets") if isinstance(raw.get("case_sheets"), dict) else {}
        prob(key_line(sheets, "home", key_line(raw, "case_sheets")), None,
             f"case_sheets.home: '{home}' is not one of the regions ({', '.join(settings.regions)})")
    tagger = raw.get("tagger") if isinstance(raw.get("tagger"), dict) else {}
    kind_regions = tagger.get("regions") if isinstance(tagger.get("regions"), dict) else {}
    for kind, regions in settings.tagger.regions.items():
        if kind not in kinds:
            prob(key_line(kind_regions, kind), None, f"tagger.regions: unknown code kind '{kind}'{did_you_mean(kind, kinds)}")
        for r in regions:
            if r not in settings.regions:
                prob(key_line(kind_regions, kind), None, f"tagger.regions.{kind}: '{r}' is not one of the regions ({', '.join(settings.regions)})")
    absent = tagger.get("absent") if isinstance(tagger.get("absent"), dict) else {}
    bad = [k for k in settings.tagger.absent.kinds if k not in kinds]
    if bad:
        prob(key_line(absent, "kinds", line_of(tagger)), None, f"tagger.absent.kinds: unknown code kind(s) {', '.join(bad)}")


def settings_data(cb: Codebook) -> dict:
    """The codebook's settings as plain data (reports, cache keys)."""
    return as_data(cb.settings)
