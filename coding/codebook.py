"""Stage 2: load and validate ``codebook.yml`` — codes, their patterns, links and table settings.

Loading collects every problem (with ``codebook.yml:LINE``, the code id and what is wrong) and
raises one :class:`CodebookError`; problems that should not stop a run (a ref the report does not
know, a pattern that can never match) are returned as warnings instead.

Schema (see README "The codebook"):

    regions: [日本, 米国, 諸外国等]
    transcript_order: date
    attribution: {order: [...], countries: {...}, styles: {short: {...}, long: {...}}}
    tables: {comparison_style: short, challenge_table: {...}}
    denial: {cues: [...]}              # phrases that deny or call a problem solved
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

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

from .errors import CodebookError

KINDS = ("group", "phase", "theme", "finding", "challenge", "practice", "case")
CODE_KEYS = {
    "id", "kind", "label", "parent", "definition", "ref", "patterns", "codable", "deny",
    # report attributes
    "table", "process", "phase", "region", "counter", "summary", "latent", "problem",
    "answers", "cases", "practice", "country", "org_kind", "no_quote_note", "note_order",
}
RULE_KEYS = {"any", "all", "none", "phrase", "tokens", "near", "scope"}
PATTERN_KEYS = RULE_KEYS | {"id", "score", "__line__"}
TOP_KEYS = {
    "version", "title", "regions", "transcript_order", "attribution", "tables", "denial", "codes",
    "refs_file", "kinds", "tagger",
}
DEFAULT_REFS = Path(__file__).with_name("data") / "report_refs.yml"


@dataclass(frozen=True)
class Pattern:
    """One tagger rule of a code: a boolean tree over phrases and token patterns."""

    id: str
    code_id: str
    rule: Mapping[str, Any]
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
    settings: Mapping[str, Any]
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
        """The family a code belongs to for evaluation: phase, theme (themes and findings), ..."""
        kind = self.codes[code_id].kind
        return "theme" if kind == "finding" else kind

    @property
    def regions(self) -> list[str]:
        return list(self.settings.get("regions") or [])

    @property
    def patterns(self) -> list[Pattern]:
        return [p for c in self.codes.values() for p in c.patterns]

    @cached_property
    def fingerprint(self) -> str:
        """Hash of everything that changes what the tagger suggests."""
        import hashlib
        import json

        data = [(c.id, c.deny, [(p.id, p.rule, p.score) for p in c.patterns]) for c in self.codes.values()]
        data.append(("denial", self.settings.get("denial")))
        return hashlib.sha1(json.dumps(data, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def needs(self) -> set[str]:
        """Token attributes the patterns use (NORM always; POS/TAG/DEP/... only if asked)."""
        attrs = {"NORM"}
        for p in self.patterns:
            for tok in _iter_token_specs(p.rule):
                attrs.update(k.upper() for k in tok)
        return attrs


# ---------------------------------------------------------------- loading
class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser when PyYAML has it
    """A SafeLoader that records the 1-based line of every mapping under ``__line__``."""

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        keys = [self.construct_object(k, deep=True) for k, _ in node.value]
        dup = {k for k in keys if keys.count(k) > 1 and isinstance(k, str)}
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        if dup:
            mapping["__dupkeys__"] = sorted(dup)
        return mapping


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items() if k not in ("__line__", "__dupkeys__")}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def load_known_refs(path: Path | None = None) -> dict[str, str]:
    """ref → kind for every item of the report's reference list."""
    data = yaml.safe_load(Path(path or DEFAULT_REFS).read_text(encoding="utf-8")) or {}
    out = {}
    for kind, items in data.items():
        for it in items or []:
            out[str(it["ref"])] = kind.rstrip("s")
    return out


def load_codebook(path: Path | str) -> Codebook:
    """Load and validate a codebook; raise :class:`CodebookError` listing every problem."""
    path = Path(path)
    name = path.name if path.parent == Path(".") else str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CodebookError(f"{name}: not found. Every project needs a codebook.yml.") from None
    except UnicodeDecodeError:
        raise CodebookError(f"{name}: not UTF-8. Save the codebook as UTF-8.") from None
    try:
        raw = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise CodebookError(f"{name}:{line}: not valid YAML: {problem}") from None
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

    for k in raw:
        if k not in TOP_KEYS and not k.startswith("__"):
            prob(raw.get("__line__", 1), None, f"unknown top-level key '{k}' (known: {', '.join(sorted(TOP_KEYS))})")
    for k in raw.get("__dupkeys__", []):
        prob(1, None, f"top-level key '{k}' appears twice")
    regions = raw.get("regions") or ["日本", "米国", "諸外国等"]
    if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
        prob(1, None, "'regions' must be a list of names")
        regions = []
    kinds = tuple(KINDS) + tuple(raw.get("kinds") or ())
    refs_file = raw.get("refs_file")
    try:
        known_refs = load_known_refs(path.parent / refs_file if refs_file else None)
    except (OSError, yaml.YAMLError, KeyError, TypeError) as e:
        prob(1, None, f"cannot read refs_file '{refs_file}': {e}")
        known_refs = {}

    raw_codes = raw.get("codes")
    if not isinstance(raw_codes, list):
        prob(raw.get("__line__", 1), None, "'codes' must be a list of codes")
        raw_codes = []
    codes: dict[str, Code] = {}
    first_line: dict[str, int] = {}
    for entry in raw_codes:
        if not isinstance(entry, dict):
            prob(1, None, f"a code must be a mapping, got {entry!r}")
            continue
        line = entry.get("__line__", 1)
        cid = entry.get("id")
        if cid is None or str(cid).strip() == "":
            prob(line, None, "code without 'id'")
            continue
        cid = str(cid)
        for k in entry.get("__dupkeys__", []):
            prob(line, cid, f"key '{k}' appears twice")
        if cid in codes:
            prob(line, cid, f"duplicate code id (first defined at line {first_line[cid]})")
            continue
        for k in entry:
            if k not in CODE_KEYS and not k.startswith("__"):
                prob(line, cid, f"unknown key '{k}'")
        kind = entry.get("kind")
        if kind not in kinds:
            prob(line, cid, f"kind '{kind}' is not one of {', '.join(kinds)}")
        label = entry.get("label")
        if not label:
            prob(line, cid, "no 'label'")
        ref = entry.get("ref")
        if ref is not None:
            ref = str(ref)
            if ref not in known_refs:
                warn(line, cid, f"ref '{ref}' is not an item of the report (fine for a project's own code)")
        if kind == "finding":
            if entry.get("region") not in regions:
                prob(line, cid, f"finding region '{entry.get('region')}' is not one of {', '.join(regions)}")
        patterns = []
        pids = set()
        for i, pat in enumerate(entry.get("patterns") or []):
            pline = pat.get("__line__", line) if isinstance(pat, dict) else line
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
                if k not in PATTERN_KEYS and not k.startswith("__"):
                    prob(pline, cid, f"pattern '{pid}': unknown key '{k}' (use any/all/none/phrase/tokens/near)")
            rule = {k: _clean(v) for k, v in pat.items() if k in RULE_KEYS}
            if not rule:
                prob(pline, cid, f"pattern '{pid}' has no rule (any/all/none/phrase/tokens/near)")
                continue
            for msg in _check_rule(rule):
                prob(pline, cid, f"pattern '{pid}': {msg}")
            score = pat.get("score", 0.7)
            if not isinstance(score, (int, float)) or not 0 <= score <= 1:
                prob(pline, cid, f"pattern '{pid}': score must be a number between 0 and 1")
                score = 0.5
            if rule and not _can_match(rule):
                warn(pline, cid, f"pattern '{pid}' can never match (it only excludes, or an 'all' of nothing)")
            patterns.append(Pattern(pid, cid, rule, float(score), pline))
        attrs = {k: _clean(v) for k, v in entry.items() if k not in ("id", "kind", "label", "parent", "definition", "ref", "patterns", "codable", "deny") and not k.startswith("__")}
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

    # links: parents, practice → cases / answers, case → practice
    for c in codes.values():
        if c.parent is not None and c.parent not in codes:
            prob(c.line, c.id, f"unknown parent '{c.parent}'")
        for key, want in (("answers", "challenge"), ("cases", "case"), ("practice", "practice")):
            val = c.get(key)
            if val is None:
                continue
            for target in val if isinstance(val, list) else [val]:
                if str(target) not in codes:
                    prob(c.line, c.id, f"'{key}' names unknown code '{target}'")
                elif codes[str(target)].kind != want:
                    prob(c.line, c.id, f"'{key}' must name {want} codes; '{target}' is a {codes[str(target)].kind}")
    # cycles
    for c in codes.values():
        seen = {c.id}
        cur = c
        while cur.parent and cur.parent in codes:
            if cur.parent in seen:
                prob(c.line, c.id, "parent chain loops back to itself")
                break
            seen.add(cur.parent)
            cur = codes[cur.parent]

    settings = {k: _clean(v) for k, v in raw.items() if k != "codes" and not k.startswith("__")}
    settings["regions"] = regions
    problems.extend(_check_settings(settings, name, codes))
    problems.extend(_check_learned(raw.get("tagger"), name, kinds))
    if problems:
        raise CodebookError(f"{name}: {len(problems)} problem(s)", problems)
    return Codebook(path=path, codes=codes, settings=settings, warnings=tuple(warnings))


def _check_settings(settings: Mapping[str, Any], name: str, codes: Mapping[str, Code]) -> list[str]:
    out = []
    order = settings.get("transcript_order", "date")
    if order not in ("date", "file", "id"):
        out.append(f"{name}: transcript_order must be date, file or id (got '{order}')")
    styles = (settings.get("attribution") or {}).get("styles") or {}
    for sname, st in styles.items():
        if not isinstance(st, dict):
            out.append(f"{name}: attribution style '{sname}' must be a mapping")
    for key in ("comparison_style",):
        st = (settings.get("tables") or {}).get(key)
        if st and st not in styles:
            out.append(f"{name}: tables.{key} names unknown attribution style '{st}'")
    ct = (settings.get("tables") or {}).get("challenge_table") or {}
    if ct.get("style") and ct["style"] not in styles:
        out.append(f"{name}: tables.challenge_table.style names unknown attribution style '{ct['style']}'")
    return out


LEARNABLE = ("phase", "theme", "challenge", "practice")


def _check_learned(tagger: Any, name: str, kinds: Sequence[str]) -> list[str]:
    """Problems of ``tagger.learned`` (the learned suggester's settings), located by line."""
    learned = tagger.get("learned") if isinstance(tagger, dict) else None
    if learned is None:
        return []
    line = (tagger.get("__line__") if isinstance(tagger, dict) else None) or 1
    if not isinstance(learned, dict):
        return [f"{name}:{line}: tagger.learned must be a mapping (path, seeds, min_score, veto, families)"]
    line = learned.get("__line__", line)
    out = []

    def share(where: str, value: Any) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
            out.append(f"{name}:{line}: {where} must be a number from 0 to 1 (got {value!r})")

    for key in ("path", "seeds"):
        if key in learned and not isinstance(learned[key], str):
            out.append(f"{name}:{line}: tagger.learned.{key} must be a file path (got {learned[key]!r})")
    for key in ("min_score", "min_cv_f1"):
        if key in learned:
            share(f"tagger.learned.{key}", learned[key])
    if "veto" in learned:
        veto = learned["veto"]
        if not isinstance(veto, dict):
            out.append(f"{name}:{line}: tagger.learned.veto must be a mapping like {{kinds: [challenge], below: 0.02}}")
        else:
            bad = [k for k in veto.get("kinds") or [] if k not in kinds]
            if not isinstance(veto.get("kinds") or [], list) or bad:
                out.append(f"{name}:{line}: tagger.learned.veto.kinds must list code kinds (unknown: {', '.join(map(str, bad))})")
            for key in ("below", "min_cv_f1"):
                if key in veto:
                    share(f"tagger.learned.veto.{key}", veto[key])
    if "families" in learned:
        fams = learned["families"]
        bad = [f for f in (fams if isinstance(fams, list) else [fams]) if f not in LEARNABLE]
        if not isinstance(fams, list) or bad:
            got = ", ".join(map(str, bad)) if isinstance(fams, list) else repr(fams)
            out.append(f"{name}:{line}: tagger.learned.families must list some of {', '.join(LEARNABLE)} (got {got})")
    return out


# ---------------------------------------------------------------- rule checks
def _iter_token_specs(rule: Any) -> Iterable[Mapping[str, Any]]:
    if isinstance(rule, dict):
        for k, v in rule.items():
            if k == "tokens":
                for tok in v or []:
                    if isinstance(tok, dict):
                        yield tok
            elif k in ("any", "all", "none", "near"):
                for sub in v or []:
                    yield from _iter_token_specs(sub)


def _check_rule(rule: Any, depth: int = 0) -> list[str]:
    """Every problem of a rule tree, as short messages."""
    if isinstance(rule, str):
        return [] if rule.strip() else ["empty phrase"]
    if not isinstance(rule, dict):
        return [f"a rule must be a phrase or a mapping, got {rule!r}"]
    out = []
    unknown = set(rule) - RULE_KEYS
    if unknown:
        out.append(f"unknown key(s) {', '.join(sorted(unknown))}")
    if "scope" in rule and rule["scope"] not in ("sentence", "paragraph"):
        out.append(f"scope must be 'sentence' or 'paragraph', got '{rule['scope']}'")
    for key in ("any", "all", "none", "near"):
        if key in rule:
            val = rule[key]
            if not isinstance(val, list) or not val:
                out.append(f"'{key}' must be a non-empty list")
                continue
            for sub in val:
                out.extend(_check_rule(sub, depth + 1))
    if "phrase" in rule and (not isinstance(rule["phrase"], str) or not rule["phrase"].strip()):
        out.append("'phrase' must be a non-empty string")
    if "tokens" in rule:
        out.extend(_check_tokens(rule["tokens"]))
    return out


def _check_tokens(tokens: Any) -> list[str]:
    if not isinstance(tokens, list) or not tokens:
        return ["'tokens' must be a non-empty list of token specs (spaCy Matcher syntax)"]
    from spacy.errors import MatchPatternError
    from spacy.matcher import Matcher
    from spacy.vocab import Vocab

    try:
        Matcher(Vocab(), validate=True).add("check", [tokens])
    except MatchPatternError as e:
        msgs = re.findall(r"- \[[^\]]*\] (.*)", str(e)) or [str(e).strip().splitlines()[-1]]
        return [f"bad token pattern: {m}" for m in msgs]
    except (ValueError, TypeError) as e:
        return [f"bad token pattern: {e}"]
    return []


def _can_match(rule: Any) -> bool:
    if isinstance(rule, str):
        return bool(rule.strip())
    positive = [k for k in ("any", "all", "phrase", "tokens", "near") if k in rule]
    if not positive:
        return False
    if "any" in rule and not any(_can_match(r) for r in rule["any"]):
        return False
    if "all" in rule and not all(_can_match(r) for r in rule["all"]):
        return False
    return True
