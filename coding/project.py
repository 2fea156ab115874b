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
from .nlp import DocCache, NlpSettings, ParseStats, atomic_write_bytes, iter_parsed, load_nlp
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
    parsed: int = 0
    cached: int = 0
    retagged: int = 0
    suggestions: int = 0
    by_code: dict[str, int] = field(default_factory=dict)
    pending: int = 0
    decisions: int = 0
    moved: int = 0
    stale: int = 0
    model_loaded: bool = False
    path: Path | None = None


def _tag_cache_path(p: Project, t: Transcript, nlp_key: str) -> Path:
    import hashlib

    h = hashlib.sha1(f"{t.id}\x00{t.content_hash}\x00{p.codebook.fingerprint}\x00{nlp_key}".encode()).hexdigest()[:24]
    return p.cache_dir / "tags" / f"{h}.json"


def _load_tags(path: Path) -> list[Suggestion] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Suggestion(**{**d, "patterns": tuple(d["patterns"]), "matched": tuple(d["matched"])}) for d in data]
    except Exception:  # missing, corrupt or foreign: re-tag
        return None


def code_project(
    p: Project,
    *,
    jobs: int = 1,
    min_score: float = 0.0,
    progress: Callable[[Transcript], None] | None = None,
) -> CodeResult:
    """Tag every transcript and rewrite ``outputs/suggestions.csv``; decisions are untouched.

    Cached tags (keyed by transcript text, codebook patterns and NLP settings) are reused; the
    cached parses are reused when only the codebook changed; the model is loaded only when some
    transcript's text is new.
    """
    res = CodeResult(transcripts=len(p.transcripts))
    settings = p.nlp_settings()
    nlp_key = settings.key()
    suggestions: list[Suggestion] = []
    todo: list[Transcript] = []
    for t in p.transcripts:
        cached = _load_tags(_tag_cache_path(p, t, nlp_key))
        if cached is None:
            todo.append(t)
        else:
            suggestions.extend(cached)
            res.cached += 1
            if progress:
                progress(t)
    if todo:
        tagger = Tagger(p.codebook, normalise=lambda s: [x.norm_ for x in load_nlp(NlpSettings(settings.model)).make_doc(s)])
        stats = ParseStats()
        for t, docs in iter_parsed(todo, settings, DocCache(p.cache_dir / "nlp"), jobs=jobs, stats=stats):
            tags = tagger.tag(t, docs)
            atomic_write_bytes(
                _tag_cache_path(p, t, nlp_key),
                json.dumps([s.__dict__ for s in tags], ensure_ascii=False).encode("utf-8"),
            )
            suggestions.extend(tags)
            res.retagged += 1
            if progress:
                progress(t)
        res.parsed = stats.parsed
        res.cached += stats.cached
        res.model_loaded = stats.model_loaded
    rows = [
        Coding(
            s.transcript_id, s.start, s.end, s.text, s.code_id, "suggested", AUTO,
            score=s.score, pattern=",".join(s.patterns), matched="|".join(s.matched),
        )
        for s in suggestions
        if s.score >= min_score
    ]
    store = p.store()
    res.path = store.save_suggestions(rows, p.codebook.effective_ref)
    res.suggestions = len(rows)
    for r in rows:
        res.by_code[r.code_id] = res.by_code.get(r.code_id, 0) + 1
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
