"""The tag cache: what ``code`` keeps so that a re-run tags only what changed.

Files under ``outputs/cache/`` (generated, private, safe to delete):

* ``tags/<tkey>.json`` — per transcript (its text, front matter and every tagger setting): each
  code's suggestions under that code's fingerprint, plus what a later re-tag of a few codes
  needs to find their paragraphs (the strings phrases are matched in, per paragraph, and where
  the learned suggester could add each code on its own) and to decide them without reading the
  words again (the model's base log-odds per paragraph, and the sentences it put each code it
  added on: that choice depends on the model and the sentences alone, not on any pattern);
* ``tags/code-<gkey>-<fp>.json`` — per edited code (at its new fingerprint): its suggestions in
  every transcript, so an edit writes one new file instead of rewriting every transcript's;
* ``code-run.json`` — the last run's manifest: with nothing changed, ``code`` checks that
  ``suggestions.csv`` is the one it wrote and stops (no spaCy or Sudachi import).

A run re-tags only the codes whose fingerprint changed, and only in paragraphs where one of their
phrases occurs or the model proposes them; an edited transcript is parsed and tagged alone. Every
file is framed (:mod:`coding.files`): one that does not match is ignored and rebuilt.
"""
from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .codebook import Codebook
from .files import file_sha, read_framed, sha1, write_framed
from .learn import resolve_model
from .nlp import DocCache, NlpSettings, ParseStats, cache_key, empty_like, map_parsed, normaliser
from .settings import as_data
from .tagger import Suggestion, Tagger
from .transcripts import Transcript

TAGS_FORMAT = "coding-tags/4"
RUN_FORMAT = "coding-run/2"
# Sources that decide what is suggested (read as files: nothing is imported), and those that
# decide how suggestions.csv is written.
ENGINE_FILES = ("tagger.py", "learn.py", "transcripts.py", "nlp.py", "rules.py")
WRITER_FILES = ("store.py", "files.py")

Row = list  # [start, end, text, patterns, matched, score, paragraph, matched_at]


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


_SOURCES: dict[tuple[str, ...], str] = {}


def sources_hash(names: Sequence[str]) -> str:
    """Hash of some of this package's source files, so a change in how suggestions are made (or
    written) invalidates what was cached with the old code."""
    key = tuple(names)
    if key not in _SOURCES:
        here = Path(__file__).parent
        parts = []
        for name in names:
            try:
                parts.append(name.encode() + b"\x00" + (here / name).read_bytes())
            except OSError:
                parts.append(name.encode())
        _SOURCES[key] = sha1(b"\x00".join(parts))
    return _SOURCES[key]


def code_fingerprints(cb: Codebook) -> dict[str, str]:
    """Per code that can be suggested: a hash of everything of the code the tagger reads. What
    the learned suggester says of a code is in the global key (the model's content), so an edit
    re-tags only the edited code."""
    return {c.id: sha1(_dumps([c.id, c.kind, c.parent, c.deny, [(p.id, p.rule.to_data(), p.score) for p in c.patterns]]))
            for c in cb.codes.values() if c.codable}


def tag_settings(cb: Codebook) -> str:
    """The codebook settings the tagger reads, with the content of the learned model it uses."""
    model = resolve_model(cb)
    return _dumps({"tagger": as_data(cb.settings.tagger), "denial": as_data(cb.settings.denial),
                   "model": file_sha(model.path) if model.path is not None else None})


def needs_spacy_docs(cb: Codebook) -> bool:
    """Token (Matcher) patterns need spaCy docs; phrase rules work on the lexical docs."""
    return any(p.rule.uses_tokens for p in cb.patterns)


def candidate_paragraphs(strings: list | None, n: int, variants: dict[str, set[str] | None],
                         model: dict[str, list] | None = None) -> list[int]:
    """Paragraphs in which one of the codes could be suggested (all, when that cannot be told):
    those holding one of their phrase variants, and those where the learned suggester (``model``:
    code → paragraphs, from the full tagging) proposes one of them."""
    if strings is None or len(strings) != n or any(v is None for v in variants.values()):
        return list(range(n))
    hit: set[int] = {i for c in variants for i in (model or {}).get(c, ()) if isinstance(i, int) and 0 <= i < n}
    wanted = sorted({v for vs in variants.values() for v in vs if v})
    if not wanted:
        return sorted(hit)
    kinds = max((len(s) for s in strings), default=0)
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


def _rows_by_code(sugg: Sequence[Suggestion]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {}
    for s in sugg:
        out.setdefault(s.code_id, []).append([s.start, s.end, s.text, list(s.patterns), list(s.matched), s.score, s.paragraph,
                                             list(s.matched_at)])
    return out


def make_tagger(cb: Codebook, settings: NlpSettings, codes: Sequence[str] | None = None) -> Tagger:
    """The tagger of a codebook (or of some of its codes only), normalising phrases as the
    transcripts are normalised."""
    return Tagger(cb if codes is None else cb.with_codes(codes), normalise=normaliser(settings))


RETAG_DATA = ("strings", "model", "logits", "added")  # what a tag entry keeps for later re-tags only


def _drop_retag_data(entry: dict) -> None:
    """Forget what a tag entry keeps for a later re-tag (it is on disk; the run needs only the codes)."""
    for k in RETAG_DATA:
        entry.pop(k, None)


class TagWork:
    """Tag one transcript's docs; runs in the parsing processes (picklable: the tagger is built
    lazily in each worker, or handed over in this process).

    ``codes``: only these codes (a codebook edit); ``paragraphs``: transcript id → the paragraphs
    to tag (the others are known to hold none of these codes' phrases).
    """

    def __init__(self, codebook: Codebook, settings: NlpSettings, codes: Sequence[str] | None = None,
                 paragraphs: dict[str, list[int]] | None = None, tagger: Tagger | None = None,
                 logits: dict[str, list] | None = None, added: dict[str, dict] | None = None):
        self.codebook, self.settings = codebook, settings
        self.codes = None if codes is None else list(codes)
        self.paragraphs = paragraphs
        self.logits = logits or {}  # transcript id → the model's base logits per paragraph (a re-tag)
        self.added = added or {}  # transcript id → paragraph → code → sentences the model chose (a re-tag)
        self._tagger = tagger

    def __getstate__(self):
        return {**self.__dict__, "_tagger": None}

    def tagger(self) -> Tagger:
        if self._tagger is None:
            self._tagger = make_tagger(self.codebook, self.settings, self.codes)
        return self._tagger

    def __call__(self, t: Transcript, docs: Sequence) -> tuple[dict[str, list[Row]], dict | None]:
        """Rows per code; on a full tagging also what a later re-tag of a few codes needs."""
        tagger = self.tagger()
        if self.codes is None:
            tagger.known_logits = tagger.known_added = None
            rows = _rows_by_code(tagger.tag(t, docs))
            found = {"strings": [tagger.match_strings(d) for d in docs], "model": tagger.model_codes(t, docs)}
            if tagger.model is not None:
                found["logits"] = [tagger.logits.get(i) for i in range(len(t.paragraphs))]
                found["added"] = {str(i): v for i, v in sorted(tagger.added.items()) if v}
            return rows, found
        known = self.logits.get(t.id)
        tagger.known_logits = {i: z for i, z in enumerate(known) if z is not None} if known else None
        added = self.added.get(t.id)
        tagger.known_added = {int(i): v for i, v in added.items()} if added else None
        wanted = self.paragraphs.get(t.id) if self.paragraphs is not None else None
        if wanted is not None and docs:  # an empty doc stands in for a paragraph known to hold no match
            keep = set(wanted)
            empty = empty_like(docs[0])
            docs = [d if i in keep else empty for i, d in enumerate(docs)]
        return _rows_by_code(tagger.tag(t, docs)), None


@dataclass
class TagStats:
    transcripts: int = 0
    parsed: int = 0  # transcripts parsed now (new or edited text)
    cached: int = 0  # transcripts whose tags came from the cache
    retagged: int = 0  # transcripts tagged now (all codes)
    retagged_codes: list[str] = field(default_factory=list)  # codes re-tagged from cached parses
    model_loaded: bool = False


@dataclass
class PruneResult:
    removed: int = 0  # files deleted
    freed: int = 0  # bytes
    kept: int = 0  # files still in use


class TagCache:
    """The tag cache of one project (``outputs/cache``) for one codebook and NLP setting."""

    def __init__(self, folder: Path, codebook: Codebook, settings: NlpSettings):
        self.folder = Path(folder)
        self.codebook = codebook
        self.settings = settings
        self.nlp_key = settings.key()
        self.fps = code_fingerprints(codebook)
        self.gkey = sha1("\x00".join([TAGS_FORMAT, sources_hash(ENGINE_FILES), self.nlp_key, tag_settings(codebook)]))

    # ------------------------------------------------------------ paths and keys
    @property
    def run_path(self) -> Path:
        return self.folder / "code-run.json"

    def tag_key(self, t: Transcript) -> str:
        """A transcript's key: its text and front matter (region filters read it) and everything
        global to the tagger; per-code parts are checked against the code fingerprints."""
        return sha1("\x00".join([self.gkey, t.id, t.content_hash, _dumps(dict(t.attributes))]))

    def _tag_path(self, key: str) -> Path:
        return self.folder / "tags" / f"{key}.json"

    def _overlay_path(self, fp: str) -> Path:
        return self.folder / "tags" / f"code-{self.gkey}-{fp}.json"

    def run_digest(self, transcripts: Sequence[Transcript], min_score: float) -> str:
        """Everything suggestions.csv depends on (the whole codebook file: refs are written too)."""
        try:
            cb_bytes = Path(self.codebook.path).read_bytes()
        except (OSError, TypeError):
            cb_bytes = _dumps(self.fps).encode()
        parts = [RUN_FORMAT, self.gkey, sources_hash(WRITER_FILES), _dumps(self.fps), repr(float(min_score)), sha1(cb_bytes)]
        parts += [f"{t.id}\x00{t.content_hash}\x00{_dumps(dict(t.attributes))}" for t in transcripts]
        return sha1("\n".join(parts))

    # ------------------------------------------------------------ the run manifest
    def last_run(self, digest: str, csv_path: Path) -> dict[str, int] | None:
        """Suggestion counts per code of the last run, if it had this digest and ``csv_path`` is
        still the file it wrote; else None."""
        run = read_framed(self.run_path, RUN_FORMAT, digest)
        try:
            if run["csv"] == file_sha(csv_path):
                return {str(k): int(v) for k, v in run["by_code"].items()}
        except Exception:
            pass
        return None

    def record_run(self, digest: str, csv_path: Path, by_code: dict[str, int]) -> None:
        try:
            write_framed(self.run_path, RUN_FORMAT, digest, {"csv": file_sha(csv_path), "by_code": by_code})
        except OSError:
            pass  # only costs the next run its shortcut

    # ------------------------------------------------------------ entries
    def _load_entry(self, key: str) -> dict | None:
        """A transcript's tag entry, or None when missing, corrupt or not this transcript's."""
        data = read_framed(self._tag_path(key), TAGS_FORMAT, key)
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

    def _load_overlay(self, code: str, fp: str) -> dict[str, list]:
        data = read_framed(self._overlay_path(fp), TAGS_FORMAT, f"{self.gkey}:{code}:{fp}")
        if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
            return {}
        return data

    # ------------------------------------------------------------ tagging
    def tag(self, transcripts: Sequence[Transcript], *, jobs: int = 1,
            progress: Callable[[Transcript], None] | None = None) -> tuple[dict[str, dict[str, list[Row]]], TagStats]:
        """Every transcript's suggestions (transcript id → code → rows), from the cache where it
        is current, tagging (and parsing) only what changed."""
        stats = TagStats(transcripts=len(transcripts))
        fps = self.fps
        keys = {t.id: self.tag_key(t) for t in transcripts}
        entries: dict[str, dict] = {}
        overlays: dict[str, dict[str, list]] = {}  # code → tkey → rows, at the code's current fingerprint
        todo: list[Transcript] = []  # no usable tags: parse (or read the parse) and tag all codes
        stale: dict[frozenset, list[Transcript]] = {}  # tags of some codes out of date
        for t in transcripts:
            tkey = keys[t.id]
            e = self._load_entry(tkey)
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
                    overlays[c] = self._load_overlay(c, fp)
                if tkey in overlays[c]:
                    codes[c] = [fp, overlays[c][tkey]]
                else:
                    missing.add(c)
            e["codes"] = codes
            entries[t.id] = e
            if missing:
                stale.setdefault(frozenset(missing), []).append(t)
            else:
                _drop_retag_data(e)
                stats.cached += 1
                if progress:
                    progress(t)

        cache = DocCache(self.folder / "nlp")
        as_spacy = needs_spacy_docs(self.codebook)
        pstats = ParseStats()
        if todo:
            work = TagWork(self.codebook, self.settings)
            for t, (rows, found) in map_parsed(todo, self.settings, cache, work, jobs=jobs, stats=pstats, as_spacy=as_spacy):
                e = {**found, "codes": {c: [fp, rows.get(c, [])] for c, fp in fps.items()}}
                write_framed(self._tag_path(keys[t.id]), TAGS_FORMAT, keys[t.id], e)
                _drop_retag_data(e)
                entries[t.id] = e
                stats.retagged += 1
                if progress:
                    progress(t)
        changed: set[str] = set()
        for missing, ts in stale.items():
            codes = sorted(missing)
            tagger = make_tagger(self.codebook, self.settings, codes)
            stats.retagged_codes.extend(c for c in codes if c not in stats.retagged_codes)
            variants = tagger.required_variants()
            wanted = {}
            for t in ts:  # codes the transcript's region rules out (tagger.regions) need no paragraph
                region = t.attributes.get("region")
                here = {c: v for c, v in variants.items() if tagger.allowed(c, region)}
                wanted[t.id] = candidate_paragraphs(entries[t.id].get("strings"), len(t.paragraphs), here,
                                                    entries[t.id].get("model")) if here else []
            need = [t for t in ts if wanted[t.id]]
            found: dict[str, dict[str, list]] = {}
            if need:
                work = TagWork(self.codebook, self.settings, codes, {t.id: wanted[t.id] for t in need}, tagger=tagger,
                               logits={t.id: entries[t.id]["logits"] for t in need if entries[t.id].get("logits")},
                               added={t.id: entries[t.id]["added"] for t in need if entries[t.id].get("added")})
                for t, (rows, _) in map_parsed(need, self.settings, cache, work, jobs=jobs, stats=pstats, as_spacy=as_spacy):
                    found[t.id] = rows
            for t in ts:
                e = entries[t.id]
                _drop_retag_data(e)
                rows = found.get(t.id, {})
                for c in codes:
                    e["codes"][c] = [fps[c], rows.get(c, [])]
                    overlays.setdefault(c, {})[keys[t.id]] = e["codes"][c][1]
                stats.cached += 1
                if progress:
                    progress(t)
            changed.update(codes)
        for c in sorted(changed):  # one new file per edited code, instead of rewriting every transcript's
            write_framed(self._overlay_path(fps[c]), TAGS_FORMAT, f"{self.gkey}:{c}:{fps[c]}", overlays[c])
        stats.parsed = pstats.parsed
        stats.model_loaded = pstats.model_loaded
        return {tid: {c: rows for c, (_, rows) in e["codes"].items()} for tid, e in entries.items()}, stats

    # ------------------------------------------------------------ pruning
    def prune(self, transcripts: Sequence[Transcript]) -> PruneResult:
        """Delete the cache files the current transcripts, codebook and model no longer use:
        parses of old texts or settings, tags under old keys, code overlays of old patterns, temp
        files of killed runs. Kept: each current transcript's parse (the coding settings' and the
        name search's NER parse), its tag entry, and each code's overlay at its current patterns."""
        ner = NlpSettings.for_needs((), ner=True, model=self.settings.model)
        keep_nlp = {cache_key(t, s) for t in transcripts for s in (self.settings, ner)}
        keep_tags = {self._tag_path(self.tag_key(t)).name for t in transcripts}
        keep_tags |= {self._overlay_path(fp).name for fp in self.fps.values()}
        res = PruneResult()
        for folder, keep in ((self.folder / "nlp", lambda f: f.name.split(".", 1)[0] in keep_nlp),
                             (self.folder / "tags", lambda f: f.name in keep_tags)):
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
