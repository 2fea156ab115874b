"""A project folder: codebook.yml + transcripts/ + codings/ (decisions) + outputs/ (generated).

The functions here wire the stages together for the CLI; each returns a plain result object and
prints nothing (progress is reported through an optional callback).
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .codebook import Codebook, load_codebook
from .errors import CodebookError, CodingError, StoreError, TranscriptError
from .nlp import DocCache, NlpSettings, ParseStats, atomic_write_bytes, iter_parsed, load_nlp, map_parsed, read_framed, write_framed
from .store import AUTO, Coding, Store, read_codings_csv, to_csv, validate_against, COLUMNS
from .tagger import Suggestion, Tagger
from .transcripts import Transcript, read_transcripts


@dataclass
class Project:
    root: Path
    codebook: Codebook
    transcripts: list[Transcript]

    @classmethod
    def open(cls, root: Path | str) -> "Project":
        """Load and validate codebook and transcripts; raises with every problem located."""
        root = Path(root)
        if not root.is_dir():
            from .errors import ProjectError

            raise ProjectError(f"{root}: no such project folder")
        cb = load_codebook(root / "codebook.yml")
        ts = read_transcripts(root / "transcripts", regions=cb.regions, order=cb.settings.get("transcript_order", "date"))
        return cls(root, cb, ts)

    @property
    def by_id(self) -> dict[str, Transcript]:
        return {t.id: t for t in self.transcripts}

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def cache_dir(self) -> Path:
        return self.outputs / "cache"

    def store(self) -> Store:
        return Store.open(self.root)

    def nlp_settings(self) -> NlpSettings:
        tagger = self.codebook.settings.get("tagger") or {}
        return NlpSettings.for_needs(self.codebook.needs(), parse=bool(tagger.get("parse")), model=tagger.get("model", "ja_ginza"))


# ---------------------------------------------------------------- validate
@dataclass
class ValidationReport:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    transcripts: int = 0
    codes: int = 0
    stale: list[Coding] = field(default_factory=list)
    names: list = field(default_factory=list)  # NameFinding: real names to be masked in outputs

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_project(root: Path | str, *, names: bool = True, jobs: int = 1) -> ValidationReport:
    """Check codebook, transcripts and decisions; collect every problem rather than stop at one.

    With ``names``, also list every real name the transcripts carry (see :mod:`coding.anonymity`).
    """
    root = Path(root)
    rep = ValidationReport()
    cb = None
    try:
        cb = load_codebook(root / "codebook.yml")
        rep.codes = len(cb.codes)
        rep.warnings.extend(cb.warnings)
    except CodebookError as e:
        rep.problems.extend(e.problems or [str(e)])
    ts: list[Transcript] = []
    try:
        ts = read_transcripts(root / "transcripts", regions=cb.regions if cb else None)
        rep.transcripts = len(ts)
    except TranscriptError as e:
        rep.problems.extend(e.problems or [str(e)])
    try:
        st = Store.open(root)
        by_id = {t.id: t for t in ts}
        if cb is not None and ts:
            for coder, rows in st.decisions.items():
                rep.problems.extend(validate_against(rows, by_id, cb.codes, f"codings/{coder}.csv"))
            rep.stale = [r for r in st.anchored(by_id) if r.anchor == "stale"]
            for r in rep.stale:
                rep.warnings.append(
                    f"codings/{r.coder}.csv: stale decision: {r.transcript_id} {r.code_id} "
                    f"'{r.text[:30]}' no longer occurs in the transcript (kept, not used)"
                )
    except StoreError as e:
        rep.problems.extend(e.problems or [str(e)])
    if names and cb is not None and ts and not rep.problems:
        try:
            _, rep.names = find_real_names(Project(root, cb, ts), jobs=jobs)
        except CodingError as e:
            rep.problems.append(str(e))
    return rep


# ---------------------------------------------------------------- code
@dataclass
class CodeResult:
    transcripts: int = 0
    parsed: int = 0  # transcripts parsed now (new or edited text)
    cached: int = 0  # transcripts whose tags or parses came from the cache
    retagged: int = 0  # transcripts tagged now (all codes)
    retagged_codes: list[str] = field(default_factory=list)  # codes re-tagged from cached parses
    suggestions: int = 0
    by_code: dict[str, int] = field(default_factory=dict)
    pending: int = 0
    decisions: int = 0
    moved: int = 0
    stale: int = 0
    model_loaded: bool = False
    path: Path | None = None


# The tag cache, outputs/cache/tags/:
#   <tkey>.json          per transcript (text, front matter, tagger settings): each code's
#                        suggestions under that code's fingerprint, and the paragraph match strings;
#   code-<gkey>-<fp>.json  per edited code (its new fingerprint): its suggestions in every
#                        transcript, so an edit writes one new file instead of rewriting them all.
# A run re-tags only the codes whose fingerprint changed, and only in paragraphs where one of
# their phrases occurs. The run manifest (outputs/cache/code-run.json) lets a run with nothing
# changed skip tagging and writing altogether. Every file carries its format, key and checksum;
# one that does not match is ignored and rebuilt.
TAGS_FORMAT = "coding-tags/2"
RUN_FORMAT = "coding-run/1"
# codebook settings that never change a suggestion (any other key, known or new, invalidates tags)
_NOT_TAGGING = {"version", "title", "regions", "transcript_order", "attribution", "tables", "refs_file", "kinds", "codes"}


def _sha(data: str | bytes) -> str:
    import hashlib

    return hashlib.sha1(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()[:24]


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


_ENGINE: dict[str, str] = {}


def _source_hash(*modules) -> str:
    """Hash of module sources, so that a change in how suggestions are made invalidates caches."""
    names = ",".join(m.__name__ for m in modules)
    if names not in _ENGINE:
        parts = []
        for m in modules:
            try:
                parts.append(Path(m.__file__).read_bytes())
            except (OSError, TypeError):
                parts.append(m.__name__.encode())
        _ENGINE[names] = _sha(b"\x00".join(parts))
    return _ENGINE[names]


_ENGINE_FILES = ("tagger.py", "learn.py", "transcripts.py", "nlp.py")


def _engine_hash() -> str:
    """Hash of the sources that decide what is suggested (read as files: nothing is imported)."""
    if "engine" not in _ENGINE:
        here = Path(__file__).parent
        parts = []
        for name in _ENGINE_FILES:
            try:
                parts.append(name.encode() + b"\x00" + (here / name).read_bytes())
            except OSError:
                parts.append(name.encode())
        _ENGINE["engine"] = _sha(b"\x00".join(parts))
    return _ENGINE["engine"]


def _code_fingerprints(cb: Codebook) -> dict[str, str]:
    """Per code that can be suggested: a hash of everything of the code the tagger reads.

    A code's suggestions come from its own patterns and from what the learned suggester (if
    any) says of the code, and the model's content is part of the global key (``_tag_settings``),
    so an edit re-tags only the edited code."""
    out = {}
    for c in cb.codes.values():
        if c.codable:
            out[c.id] = _sha(_dumps([c.id, c.kind, c.parent, c.deny, [(p.id, p.rule, p.score) for p in c.patterns]]))
    return out


def _tag_settings(cb: Codebook) -> str:
    """The codebook settings the tagger reads, with the content of any learned model it names."""
    opts = {k: v for k, v in cb.settings.items() if k not in _NOT_TAGGING}
    learned = ((cb.settings.get("tagger") or {}).get("learned") or {}) if isinstance(cb.settings.get("tagger"), dict) else {}
    if isinstance(learned, dict) and learned.get("path"):
        try:
            opts["__learned__"] = _sha((Path(cb.path).resolve().parent / str(learned["path"])).read_bytes())
        except (OSError, TypeError):
            opts["__learned__"] = "missing"
    return _dumps(opts)


def _global_key(nlp_key: str, engine: str, tag_settings: str) -> str:
    return _sha("\x00".join([TAGS_FORMAT, engine, nlp_key, tag_settings]))


def _tag_key(t: Transcript, gkey: str) -> str:
    """A transcript's tag-cache key: its text and front matter (region filters read it) and
    everything global to the tagger; per-code parts are checked against the code fingerprints."""
    return _sha("\x00".join([gkey, t.id, t.content_hash, _dumps(dict(t.attributes))]))


def _tag_path(p: Project, key: str) -> Path:
    return p.cache_dir / "tags" / f"{key}.json"


def _overlay_path(p: Project, gkey: str, fp: str) -> Path:
    return p.cache_dir / "tags" / f"code-{gkey}-{fp}.json"


def _load_tag_entry(path: Path, key: str) -> dict | None:
    """A transcript's tag entry, or None when missing, corrupt or not this transcript's (re-tag)."""
    data = read_framed(path, TAGS_FORMAT, key)
    try:
        if not isinstance(data.get("codes"), dict) or not isinstance(data.get("strings"), (list, type(None))):
            return None
        if not isinstance(data.get("model"), dict) or not all(isinstance(v, list) for v in data["model"].values()):
            return None
        for fp, rows in data["codes"].values():
            if not isinstance(fp, str) or not isinstance(rows, list):
                return None
        return data
    except Exception:
        return None


def _load_overlay(path: Path, key: str) -> dict[str, list]:
    data = read_framed(path, TAGS_FORMAT, key)
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        return {}
    return data


def _rows_by_code(sugg: Sequence[Suggestion]) -> dict[str, list]:
    out: dict[str, list] = {}
    for s in sugg:
        out.setdefault(s.code_id, []).append([s.start, s.end, s.text, list(s.patterns), list(s.matched), s.score, s.paragraph])
    return out


def _match_strings(docs: Sequence) -> list | None:
    """Per paragraph, the strings the tagger matches phrases in (its own paragraph context)."""
    from . import tagger as tagger_mod

    context = getattr(tagger_mod, "_context", None)
    if context is None:
        return None
    try:
        return [[s for s, _ in context(list(d)).strings] if len(d) else [] for d in docs]
    except Exception:
        return None


class _TagWork:
    """Tag one transcript's docs; runs in the parsing processes (picklable, tagger built lazily).

    ``codes``: only these codes (a codebook edit); ``paragraphs``: transcript id → the paragraphs
    to tag (others are known to hold none of these codes' phrases).
    """

    def __init__(self, codebook: Codebook, settings: NlpSettings, codes: Sequence[str] | None = None,
                 paragraphs: dict[str, list[int]] | None = None):
        self.codebook, self.settings = codebook, settings
        self.codes = None if codes is None else list(codes)
        self.paragraphs = paragraphs
        self._tagger: Tagger | None = None

    def __getstate__(self):
        return {**self.__dict__, "_tagger": None}

    def tagger(self) -> Tagger:
        if self._tagger is None:
            self._tagger = _make_tagger(self.codebook, self.settings, self.codes)
        return self._tagger

    def __call__(self, t: Transcript, docs: Sequence) -> tuple[dict[str, list], dict | None]:
        """Rows per code; on a full tagging also what a later re-tag of a few codes needs to
        find their paragraphs: the strings phrases are matched in, and the model's paragraphs."""
        tagger = self.tagger()
        if self.codes is None:
            return _rows_by_code(tagger.tag(t, docs)), {"strings": _match_strings(docs), "model": tagger.model_codes(t, docs)}
        wanted = self.paragraphs.get(t.id) if self.paragraphs is not None else None
        if wanted is not None and docs:  # an empty doc stands in for a paragraph known to hold no match
            keep = set(wanted)
            empty = _empty_like(docs[0])
            docs = [d if i in keep else empty for i, d in enumerate(docs)]
        return _rows_by_code(tagger.tag(t, docs)), None


def _empty_like(doc):
    from .nlp import LexDoc

    if isinstance(doc, LexDoc):
        return LexDoc("", [], [], [], [], [])
    from spacy.tokens import Doc

    return Doc(doc.vocab, words=[])


def _make_tagger(cb: Codebook, settings: NlpSettings, codes: Sequence[str] | None = None) -> Tagger:
    from dataclasses import replace

    from .nlp import normaliser

    if codes is not None:
        keep = set(codes)
        cb = replace(cb, codes={k: c for k, c in cb.codes.items() if k in keep})
    return Tagger(cb, normalise=normaliser(settings))


def _needs_spacy_docs(cb: Codebook) -> bool:
    """Token (Matcher) patterns need spaCy docs; phrase rules work on the lexical docs."""

    def walk(rule) -> bool:
        if isinstance(rule, str):
            return False
        if "tokens" in rule:
            return True
        return any(walk(sub) for k in ("any", "all", "none", "near") for sub in (rule.get(k) or []))

    return any(walk(p.rule) for p in cb.patterns)


def _positive_variants(tagger: Tagger) -> dict[str, set[str] | None]:
    """Per code: the phrase variants one of which must occur in a paragraph for the code to be
    suggested there (phrases outside ``none``); None when that cannot be told (token patterns)."""
    variants = getattr(tagger, "_variants", None)
    out: dict[str, set[str] | None] = {}

    def walk(rule, acc: set[str]) -> bool:
        if isinstance(rule, str):
            acc.update(variants(rule))
            return True
        if set(rule) - {"phrase", "any", "all", "none", "near", "scope"}:
            return False  # token patterns or a rule kind this check does not know
        if "phrase" in rule:
            acc.update(variants(rule["phrase"]))
        return all(walk(sub, acc) for k in ("any", "all", "near") for sub in (rule.get(k) or []))

    for code_id in tagger.codebook.codes:
        out[code_id] = set()
    for pat in tagger.patterns:
        acc = out.setdefault(pat.code_id, set())
        if acc is None:
            continue
        if variants is None or not walk(pat.rule, acc):
            out[pat.code_id] = None
    return out


def _candidate_paragraphs(strings: list | None, n: int, variants: dict[str, set[str] | None],
                          model: dict[str, list] | None = None) -> list[int]:
    """Paragraphs in which one of the codes could be suggested (all, when that cannot be told):
    those holding one of their phrases, and those where the learned suggester (``model``: code →
    paragraphs, from the full tagging) proposes one of them."""
    if strings is None or len(strings) != n or any(v is None for v in variants.values()):
        return list(range(n))
    hit: set[int] = {i for c in variants for i in (model or {}).get(c, ()) if isinstance(i, int) and 0 <= i < n}
    wanted = sorted({v for vs in variants.values() for v in vs if v})
    if not wanted:
        return sorted(hit)
    kinds = max((len(s) for s in strings), default=0)
    import bisect

    for k in range(kinds):
        parts = [s[k] if k < len(s) else "" for s in strings]
        starts, pos = [], 0
        for s in parts:
            starts.append(pos)
            pos += len(s) + 1
        big = "\x00".join(parts)
        for v in wanted:
            i = big.find(v)
            while i != -1:
                hit.add(bisect.bisect_right(starts, i) - 1)
                i = big.find(v, i + 1)
    return sorted(hit)


def _run_digest(p: Project, fps: dict[str, str], nlp_key: str, engine: str, min_score: float) -> str:
    """Everything outputs/cache/suggestions.csv depends on (the whole codebook: refs are written too)."""
    from . import store as store_mod

    try:
        cb_bytes = Path(p.codebook.path).read_bytes()
    except (OSError, TypeError):
        cb_bytes = _dumps(fps).encode()
    parts = [RUN_FORMAT, engine, _source_hash(store_mod), nlp_key, _dumps(fps), repr(float(min_score)), _sha(cb_bytes),
             _tag_settings(p.codebook)]
    parts += [f"{t.id}\x00{t.content_hash}\x00{_dumps(dict(t.attributes))}" for t in p.transcripts]
    return _sha("\n".join(parts))


def _file_sha(path: Path) -> str | None:
    try:
        return _sha(path.read_bytes())
    except OSError:
        return None


def code_project(
    p: Project,
    *,
    jobs: int = 1,
    min_score: float = 0.0,
    progress: Callable[[Transcript], None] | None = None,
) -> CodeResult:
    """Tag every transcript and rewrite ``outputs/cache/suggestions.csv``; decisions are untouched.

    Incremental, and safe to interrupt: nothing changed → nothing is tagged, parsed or loaded
    (not even spaCy or Sudachi); a codebook edit → only the edited codes are re-tagged, from
    cached parses and only in paragraphs holding one of their phrases; an edited transcript →
    only it is parsed and tagged. New parses run in ``jobs`` processes.
    """
    res = CodeResult(transcripts=len(p.transcripts))
    settings = p.nlp_settings()
    nlp_key = settings.key()
    engine = _engine_hash()
    fps = _code_fingerprints(p.codebook)
    run_path = p.cache_dir / "code-run.json"
    from .store import suggestions_path

    out_path = suggestions_path(p.root)
    digest = _run_digest(p, fps, nlp_key, engine, min_score)
    run = read_framed(run_path, RUN_FORMAT, digest)
    try:
        fresh = run["csv"] == _file_sha(out_path)
        by_code = {str(k): int(v) for k, v in run["by_code"].items()}
    except Exception:
        fresh = False
    if fresh:  # nothing changed since the last run: its suggestions.csv is this run's
        res.cached = len(p.transcripts)
        res.by_code = by_code
        res.suggestions = sum(by_code.values())
        res.path = out_path
        for t in p.transcripts:
            if progress:
                progress(t)
        return _count_decisions(p, res)

    gkey = _global_key(nlp_key, engine, _tag_settings(p.codebook))
    keys = {t.id: _tag_key(t, gkey) for t in p.transcripts}
    entries: dict[str, dict] = {}
    overlays: dict[str, dict[str, list]] = {}  # code → tkey → rows, at the code's current fingerprint
    todo: list[Transcript] = []  # no usable tags: parse (or read the parse) and tag all codes
    stale: dict[frozenset, list[Transcript]] = {}  # tags of some codes out of date
    for t in p.transcripts:
        tkey = keys[t.id]
        e = _load_tag_entry(_tag_path(p, tkey), tkey)
        if e is None:
            todo.append(t)
            continue
        have = e["codes"]
        codes = {}
        missing = set()
        for c, fp in fps.items():
            if c in have and have[c][0] == fp:
                codes[c] = have[c]
                continue
            if c not in overlays:
                overlays[c] = _load_overlay(_overlay_path(p, gkey, fp), f"{gkey}:{c}:{fp}")
            if tkey in overlays[c]:
                codes[c] = [fp, overlays[c][tkey]]
            else:
                missing.add(c)
        e["codes"] = codes
        entries[t.id] = e
        if missing:
            stale.setdefault(frozenset(missing), []).append(t)
        else:
            e.pop("strings", None)
            e.pop("model", None)
            res.cached += 1
            if progress:
                progress(t)

    cache = DocCache(p.cache_dir / "nlp")
    as_spacy = _needs_spacy_docs(p.codebook)
    stats = ParseStats()
    if todo:
        work = _TagWork(p.codebook, settings)
        for t, (rows, found) in map_parsed(todo, settings, cache, work, jobs=jobs, stats=stats, as_spacy=as_spacy):
            e = {**found, "codes": {c: [fp, rows.get(c, [])] for c, fp in fps.items()}}
            write_framed(_tag_path(p, keys[t.id]), TAGS_FORMAT, keys[t.id], e)
            e.pop("strings")
            e.pop("model")
            entries[t.id] = e
            res.retagged += 1
            if progress:
                progress(t)
    changed: set[str] = set()
    for missing, ts in stale.items():
        codes = sorted(missing)
        tagger = _make_tagger(p.codebook, settings, codes)
        res.retagged_codes.extend(c for c in codes if c not in res.retagged_codes)
        variants = _positive_variants(tagger)
        wanted = {}
        for t in ts:  # codes the transcript's region rules out (tagger.regions) need no paragraph
            region = t.attributes.get("region")
            here = {c: v for c, v in variants.items() if tagger._allowed(c, region)}
            wanted[t.id] = _candidate_paragraphs(entries[t.id].get("strings"), len(t.paragraphs), here,
                                                 entries[t.id].get("model")) if here else []
        need = [t for t in ts if wanted[t.id]]
        found: dict[str, dict[str, list]] = {}
        if need:
            work = _TagWork(p.codebook, settings, codes, {t.id: wanted[t.id] for t in need})
            work._tagger = tagger
            for t, (rows, _) in map_parsed(need, settings, cache, work, jobs=jobs, stats=stats, as_spacy=as_spacy):
                found[t.id] = rows
        for t in ts:
            e = entries[t.id]
            e.pop("strings", None)
            e.pop("model", None)
            rows = found.get(t.id, {})
            for c in codes:
                e["codes"][c] = [fps[c], rows.get(c, [])]
                overlays.setdefault(c, {})[keys[t.id]] = e["codes"][c][1]
            res.cached += 1
            if progress:
                progress(t)
        changed.update(codes)
    for c in sorted(changed):  # one new file per edited code, instead of rewriting every transcript's
        write_framed(_overlay_path(p, gkey, fps[c]), TAGS_FORMAT, f"{gkey}:{c}:{fps[c]}", overlays[c])
    del overlays
    res.parsed = stats.parsed
    res.model_loaded = stats.model_loaded

    rows = []
    for t in p.transcripts:
        for cid, (_, code_rows) in entries[t.id]["codes"].items():
            for start, end, text, pats, matched, score, _para in code_rows:
                if score >= min_score:
                    rows.append(Coding(t.id, start, end, text, cid, "suggested", AUTO, score=score,
                                       pattern=",".join(pats), matched="|".join(matched)))
                    res.by_code[cid] = res.by_code.get(cid, 0) + 1
    del entries
    store = Store.open(p.root, suggestions=False)  # the old suggestions are replaced, not read
    res.path = store.save_suggestions(rows, p.codebook.effective_ref)
    res.suggestions = len(rows)
    try:
        write_framed(run_path, RUN_FORMAT, digest, {"csv": _file_sha(res.path), "by_code": res.by_code})
    except OSError:
        pass  # only costs the next run its shortcut
    return _count_decisions(p, res, store)


@dataclass
class PruneResult:
    removed: int = 0  # files deleted
    freed: int = 0  # bytes
    kept: int = 0  # files still in use


def prune_cache(p: Project) -> PruneResult:
    """Delete the cache files the project's current transcripts, codebook and model no longer use:
    parses of old texts or settings, tags under old keys, code overlays of old patterns. Kept: each
    current transcript's parse (the coding settings', and the name search's NER parse), its tag
    entry, and each code's overlay at its current patterns. Generated files only: decisions and
    outputs are never touched; a later run rebuilds whatever it misses."""
    from .nlp import cache_key

    settings = p.nlp_settings()
    ner = NlpSettings.for_needs((), ner=True, model=settings.model)
    keep_nlp = {cache_key(t, s) for t in p.transcripts for s in (settings, ner)}
    gkey = _global_key(settings.key(), _engine_hash(), _tag_settings(p.codebook))
    keep_tags = {_tag_path(p, _tag_key(t, gkey)).name for t in p.transcripts}
    keep_tags |= {_overlay_path(p, gkey, fp).name for fp in _code_fingerprints(p.codebook).values()}
    res = PruneResult()
    for folder, keep in ((p.cache_dir / "nlp", lambda f: f.name.split(".", 1)[0] in keep_nlp),
                         (p.cache_dir / "tags", lambda f: f.name in keep_tags)):
        if not folder.is_dir():
            continue
        for f in sorted(folder.iterdir()):
            if not f.is_file():
                continue
            if keep(f):
                res.kept += 1
                continue
            try:
                size = f.stat().st_size
                f.unlink()
            except OSError:
                continue
            res.removed += 1
            res.freed += size
    return res


def _count_decisions(p: Project, res: CodeResult, store: Store | None = None) -> CodeResult:
    store = store or p.store()
    anchored = store.anchored(p.by_id)
    res.decisions = len(anchored)
    res.moved = sum(1 for r in anchored if r.anchor == "moved")
    res.stale = sum(1 for r in anchored if r.anchor == "stale")
    res.pending = len(store.pending(p.by_id))
    return res


# ---------------------------------------------------------------- export / import
def export_codings(p: Project, *, coders: Sequence[str] | None = None, statuses: Sequence[str] | None = None) -> str:
    """All codings (suggestions and decisions) as FORMATS.md §3 CSV text."""
    rows = p.store().all_rows(p.by_id)
    rows = [r for r in rows if r.anchor != "stale"]
    if coders:
        rows = [r for r in rows if r.coder in coders]
    if statuses:
        rows = [r for r in rows if r.status in statuses]
    return to_csv(rows, COLUMNS + ["quote", "score", "pattern"], p.codebook.effective_ref)


@dataclass
class ImportResult:
    added: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    skipped_suggested: int = 0
    files: list[Path] = field(default_factory=list)


def import_codings(p: Project, path: Path | str, *, coder: str | None = None) -> ImportResult:
    """Merge a codings CSV into the decisions. A malformed file is refused whole; nothing changes."""
    rows = read_codings_csv(path, default_coder=coder)
    res = ImportResult()
    human = [r for r in rows if r.status != "suggested"]
    res.skipped_suggested = len(rows) - len(human)
    problems = validate_against(human, p.by_id, p.codebook.codes, str(path))
    for r in human:
        if not r.text:
            problems.append(f"{path}: row {r.row}: empty text")
    if problems:
        raise StoreError(f"{path}: {len(problems)} bad row(s); nothing was imported", problems)
    # store the text the transcript really has at the (re-anchored) offsets
    from .store import reanchor

    fixed = []
    for r in human:
        a = reanchor(r, p.by_id[r.transcript_id])
        fixed.append(a)
    store = p.store()
    by_coder: dict[str, list[Coding]] = {}
    for r in fixed:
        by_coder.setdefault(r.coder, []).append(r)
    for c, rs in by_coder.items():
        added, changed = store.merge(c, rs)
        res.added[c], res.changed[c] = added, changed
    for c in by_coder:
        res.files.append(store.save(c, p.codebook.effective_ref))
    return res


# ---------------------------------------------------------------- tables
def confirmed_codings(p: Project, *, coders: Sequence[str] | None = None, include_suggested: bool = False) -> list[Coding]:
    """The codings tables and networks are built from (see DESIGN: precedence)."""
    if coders:
        known = set(p.store().coders) | {AUTO}
        unknown = [c for c in coders if c not in known]
        if unknown:
            raise StoreError(f"no decisions by coder(s) {', '.join(unknown)} (known: {', '.join(sorted(known - {AUTO})) or 'none'})")
    return p.store().resolved(p.by_id, coders=coders, include_suggested=include_suggested)


def project_tables(p: Project, *, coders: Sequence[str] | None = None, include_suggested: bool = False) -> dict:
    """Every table of the project, as a JSON-able dict (FORMATS.md §4)."""
    from .aggregate import build_tables

    codings = confirmed_codings(p, coders=coders, include_suggested=include_suggested)
    return build_tables(p.transcripts, p.codebook, codings, draft=include_suggested)


def project_crosstab(p: Project, variable: str, *, codes: Sequence[str] | None = None, unit: str = "transcript",
                     coders: Sequence[str] | None = None, include_suggested: bool = False) -> dict:
    from .aggregate import Corpus, crosstab

    codings = confirmed_codings(p, coders=coders, include_suggested=include_suggested)
    return crosstab(Corpus(p.transcripts, p.codebook, codings), variable, codes=codes, unit=unit)


# ---------------------------------------------------------------- anonymity
def find_real_names(p: Project, *, jobs: int = 1, progress: Callable[[Transcript], None] | None = None):
    """Real names in the transcripts: anonymity.yml's, GiNZA's named entities, person-name tokens.

    Returns ``(policy, findings)``. The NER parse is cached like every other parse.
    """
    from .anonymity import find_names, load_policy

    policy = load_policy(p.root, p.transcripts)
    docs_by_id = None
    if policy.detect and p.transcripts:
        settings = NlpSettings.for_needs((), ner=True, model=p.nlp_settings().model)
        docs_by_id = {}
        for t, docs in iter_parsed(p.transcripts, settings, DocCache(p.cache_dir / "nlp"), jobs=jobs):
            docs_by_id[t.id] = docs
            if progress:
                progress(t)
    return policy, find_names(p.transcripts, policy, docs_by_id)


def project_guard(p: Project, *, jobs: int = 1):
    """The anonymity guard for everything this project publishes."""
    from .anonymity import Guard

    policy, findings = find_real_names(p, jobs=jobs)
    return Guard(policy, {f.name for f in findings})


# ---------------------------------------------------------------- locking
class ProjectLock:
    """An exclusive lock on a project so two commands never interleave their writes.

    The lock is an ``flock`` on a file in the system's temp folder named after the project's real
    path (so a bad command leaves the project untouched); the kernel releases it when the process
    ends, even when it is killed, so a crashed run never leaves a stale lock behind.
    """

    def __init__(self, root: Path | str, *, what: str = "a command"):
        import hashlib

        self.root = Path(root)
        key = hashlib.sha1(str(self.root.resolve()).encode()).hexdigest()[:16]
        self.path = Path(tempfile.gettempdir()) / "coding-locks" / f"{key}.lock"
        self.what = what
        self._f = None

    def __enter__(self) -> "ProjectLock":
        import fcntl
        import os

        if not self.root.is_dir():
            return self  # no project here: opening it will say so
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise StoreError(
                f"{self.root}: the project is busy ({holder}); "
                "wait for that command to finish and run this one again"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}: {self.what}")
        f.flush()
        self._f = f
        return self

    def __exit__(self, *exc) -> None:
        if self._f is not None:
            import fcntl

            self._f.seek(0)
            self._f.truncate()
            fcntl.flock(self._f.fileno(), fcntl.LOCK_UN)
            self._f.close()
            self._f = None
