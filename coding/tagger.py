"""Stage 4: suggest codes for sentence segments from the codebook's patterns (coder ``auto``).

A pattern is a boolean tree (KH Coder's coding rules, as data):

* a bare string or ``{phrase: ...}`` — the phrase occurs, compared on Sudachi's normalised forms
  *and* on the width/case-folded surface text (Japanese has no spaces, so a phrase is a substring
  match: 共願 also finds 共願先); ``=少ない`` — on the surface text only (inflections kept apart);
* ``{tokens: [...]}`` — a spaCy Matcher token pattern (``NORM``, ``LEMMA``, ``POS``, ``DEP`` ...);
* ``{any: [...]}``, ``{all: [...]}``, ``{none: [...]}``;
* ``{near: [...], scope: sentence|paragraph}`` — every part occurs within the scope.

A node with ``scope: paragraph`` is evaluated on the sentence's whole paragraph; a suggestion still
needs at least one matched token inside the sentence itself. Codes marked ``deny`` (challenges by
default) are not suggested in a sentence that denies the problem or calls it solved.

Codebook settings under ``tagger:`` (all optional):

* ``skip: {speakers: [Q, 問], prefixes: [（メモ）]}`` — paragraphs not tagged: the interviewer's
  questions and the note-taker's memos are not the organisation's words (these are the defaults);
* ``regions: {challenge: [日本]}`` — codes of a kind are suggested only in transcripts of these
  regions (the sample report's challenges are those Japanese organisations raise; by default
  every kind is suggested in every region);
* ``learned: {model: sample}`` — a learned suggester (:mod:`coding.learn`: a model shipped by
  name, or a file relative to the codebook's folder written by ``python cli.py train``). For the
  codes it has learned (cross-validated F1 at least ``min_cv_f1``) it decides: a rule suggestion
  stands only where the model's probability for the code — reading the paragraph's words, its
  meaning and whether the code's rules fired — reaches the code's threshold, and the model adds
  the code where no rule fired when it is also at least ``min_score`` sure. Every suggestion of
  such a code is scored with that probability and names ``model:<p>`` beside its patterns; codes
  the model does not know keep their rules' suggestions and scores.
"""
from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

from .codebook import Codebook
from .learn import features_of, resolve_model, window_of
from .rules import SURFACE, Rule
from .transcripts import Transcript, split_sentences


@dataclass(frozen=True)
class Suggestion:
    """A code suggested for a segment, with provenance."""

    transcript_id: str
    start: int
    end: int
    text: str
    code_id: str
    patterns: tuple[str, ...]
    matched: tuple[str, ...]  # the words that matched: runs of adjacent matched tokens, as written
    score: float
    paragraph: int
    matched_at: tuple[int, ...] = ()  # where each word begins in ``text`` (code points)


def matched_runs(text: str, offset: int, starts: Sequence[int], ends: Sequence[int],
                 ids: Sequence[int]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The matched words of a segment and where each begins in it: the surface span of each run
    of adjacent matched tokens. ``text`` is the segment, ``offset`` where it begins in the
    paragraph, ``starts``/``ends`` the paragraph's token offsets and ``ids`` the matched tokens.

    Spans, not strings: a token's text also occurs inside other words (the 願 of 共願 in 出願),
    so marking every occurrence of a matched string would mark words that never matched.
    """
    words: list[str] = []
    at: list[int] = []
    run: list[int] = []

    def close() -> None:
        a = max(starts[run[0]] - offset, 0)
        b = min(ends[run[-1]] - offset, len(text))
        if b > a:
            words.append(text[a:b])
            at.append(a)

    for i in sorted(set(ids)):
        if run and (i != run[-1] + 1 or starts[i] != ends[run[-1]]):
            close()
            run = []
        run.append(i)
    if run:
        close()
    return tuple(words), tuple(at)


_CELL = re.compile(r"(?:^|\|)(.*?)@(\d+)(?=\||$)", re.S)


def matched_cell(words: Sequence[str], at: Sequence[int]) -> str:
    """The ``matched`` column of suggestions.csv: each word with where it begins in the segment,
    ``ロイヤリティ率@0|TLO@9``."""
    return "|".join(f"{w}@{a}" for w, a in zip(words, at))


def read_matched_cell(cell: str) -> tuple[tuple[str, ...], tuple[int | None, ...]]:
    """(words, where each begins in the segment) of a ``matched`` cell; a cell written before
    positions were recorded (``人材|不足``) gives the words and None for each position."""
    if not cell:
        return (), ()
    found = [(m.group(1), int(m.group(2))) for m in _CELL.finditer(cell)]
    if found and "".join(f"|{w}@{a}" for w, a in found)[1:] == cell:
        return tuple(w for w, _ in found), tuple(a for _, a in found)
    words = tuple(w for w in cell.split("|") if w)
    return words, (None,) * len(words)


NEGATIONS = ("ない", "無い", "ず", "ぬ", "なかっ", "ません")
# A phrase starting with "=" (SURFACE) is matched on the surface text only: normalisation undoes
# inflection, so =少ない must not meet 少なくない (many) through their shared form 少ない.
ABSENT_WINDOW = 10  # characters after a matched word in which an absence cue negates it


def fold(s: str) -> str:
    """Width- and case-insensitive form used for surface matching (ＴＬＯ → tlo, ３ → 3)."""
    return unicodedata.normalize("NFKC", s).lower()


@dataclass
class _Context:
    """Strings to match against for one window (a sentence or a paragraph)."""

    strings: list[tuple[str, list[int]]]  # (string, char → token position)
    token_ids: list[int]  # token indices (in the paragraph doc) of the window
    starts: tuple[list[int], ...] = ()  # per string: where each token's characters begin (+ the end)
    found: dict | None = None  # a paragraph's phrase hits, worked out once for all its sentences


def _within(ids: Sequence[int], clip: tuple[int, int] | None) -> Sequence[int]:
    """The sorted ``ids`` inside ``clip`` = [lo, hi) (all of them without a clip)."""
    if clip is None:
        return ids
    return ids[bisect.bisect_left(ids, clip[0]):bisect.bisect_left(ids, clip[1])]


_FOLDED: dict[str, str] = {}  # fold() of token texts: the same words recur all through a corpus


def _choice_fits(picked: Sequence[int] | None, n: int) -> bool:
    """A kept choice of sentences that can stand for this paragraph's ``n`` sentences."""
    return bool(picked) and all(isinstance(k, int) and 0 <= k < n for k in picked)


def _context(tokens: Sequence) -> _Context:
    return _context_of([t.text for t in tokens], [t.norm_ for t in tokens], [t.i for t in tokens])


def _doc_arrays(doc) -> tuple[list[str], list[str], list[int]]:
    """Texts, normalised forms and character offsets of a doc's tokens (a LexDoc gives them
    without making token objects)."""
    arrays = getattr(doc, "arrays", None)
    if arrays is not None:
        words, spaces, _, _, norms = arrays()
        idx, pos = [], 0
        for w, sp in zip(words, spaces):
            idx.append(pos)
            pos += len(w) + (1 if sp else 0)
        return words, norms, idx
    return [t.text for t in doc], [t.norm_ for t in doc], [t.idx for t in doc]


def _context_of(texts: Sequence[str], norms: Sequence[str], ids: Sequence[int]) -> _Context:
    surf: list[str] = []
    surf_map: list[int] = []
    surf_at: list[int] = []
    norm: list[str] = []
    norm_map: list[int] = []
    norm_at: list[int] = []
    get = _FOLDED.get
    for pos, (text, nf) in enumerate(zip(texts, norms)):
        a = get(text)
        if a is None:
            a = fold(text)
            if len(_FOLDED) < 500_000:
                _FOLDED[text] = a
        b = get(nf)
        if b is None:
            b = fold(nf)
            if len(_FOLDED) < 500_000:
                _FOLDED[nf] = b
        surf_at.append(len(surf_map))
        surf.append(a)
        surf_map.extend([pos] * len(a))
        norm_at.append(len(norm_map))
        norm.append(b)
        norm_map.extend([pos] * len(b))
    surf_at.append(len(surf_map))
    norm_at.append(len(norm_map))
    return _Context([("".join(surf), surf_map), ("".join(norm), norm_map)], list(ids), (surf_at, norm_at))


def _sub_context(ctx: _Context, lo: int, hi: int) -> _Context:
    """The context of tokens ``lo:hi`` of a window, cut from the window's strings (= _context of them)."""
    strings = []
    starts = []
    for (string, cmap), at in zip(ctx.strings, ctx.starts):
        a, b = at[lo], at[hi]
        strings.append((string[a:b], [x - lo for x in cmap[a:b]]))
        starts.append([x - a for x in at[lo:hi + 1]])
    return _Context(strings, ctx.token_ids[lo:hi], tuple(starts))


class Tagger:
    """Compiled patterns of a codebook. ``tag(transcript, docs)`` gives the suggestions."""

    def __init__(self, codebook: Codebook, *, normalise=None, model: Any = "auto"):
        """``normalise(text) -> list[str]`` gives a phrase's normalised forms (Sudachi via GiNZA).

        ``model``: a :class:`coding.learn.LearnedModel`, None for rules only, or "auto" for the
        one the codebook's ``tagger.learned.model`` names (rules only when it names none or the
        file is missing: :func:`coding.learn.resolve_model` says why).
        """
        self.codebook = codebook
        opts = codebook.settings.tagger
        self.skip_speakers = {fold(x) for x in opts.skip.speakers}
        self.skip_prefixes = tuple(fold(x) for x in opts.skip.prefixes)
        self.kind_regions = {k: set(v) for k, v in opts.regions.items()}
        self.source = "rules"  # what suggests: for reports
        if model == "auto":
            found = resolve_model(codebook)
            model = found.load() if found.path is not None else None
            self.source = found.describe()
        elif model is not None:
            self.source = "rules + learned suggester"
        self.model = model
        learned = opts.learned
        # the model decides the codes it proved itself on in cross-validation (the others are the rules')
        self.min_cv_f1 = learned.min_cv_f1
        # and adds a code where no rule fired only when it is at least this sure
        self.min_model_score = learned.min_score
        self._normalise = normalise
        self._phrases: dict[str, tuple[str, ...]] = {}
        self._matcher_cache: dict[int, Any] = {}
        denial = codebook.settings.denial
        self.denial = [fold(c) for c in denial.cues]
        self.contrast = [fold(c) for c in denial.contrast]
        self.past = [fold(c) for c in denial.past]
        self.solved = [fold(c) for c in denial.solved]
        self.absent_kinds = set(opts.absent.kinds)
        self.absent = [fold(c) for c in opts.absent.cues]
        self._denial_norm: list[str] = []
        self.patterns = [p for p in codebook.patterns if codebook[p.code_id].codable]
        self._uses_tokens = False
        for p in self.patterns:
            for node in p.rule.walk():
                if node.phrase is not None:
                    self.variants(node.phrase)
                if node.tokens is not None:
                    self._uses_tokens = True
        # denial is read only when some code takes it into account (``deny``)
        self._uses_denial = bool(self.denial) and any(codebook[p.code_id].deny for p in self.patterns)
        self._windows: dict[int, tuple] = {}  # see _window()
        self._words: dict[int, tuple] = {}  # see _lists()
        self.logits: dict[int, list[float]] = {}  # see _base()
        self.known_logits: Mapping[int, Sequence[float]] | None = None
        self.added: dict[int, dict[str, list[int]]] = {}  # see _add_model()
        self.known_added: Mapping[int, Mapping[str, Sequence[int]]] | None = None
        # the model's codes this tagger suggests (a tagger for a few codes scores only those)
        self._known_model_codes = [] if model is None else [
            c for c in model.codes if c in codebook and codebook[c].codable and model.cv_f1(c) >= self.min_cv_f1]
        for cue in denial.cues:
            self._denial_norm.extend(v for v in self.variants(cue) if v)

    # ------------------------------------------------------------ compile
    def variants(self, phrase: str) -> tuple[str, ...]:
        """The strings a phrase is looked for as: its folded surface form and its folded
        normalised form (only the first for a surface-only ``=phrase``)."""
        if phrase not in self._phrases:
            if phrase.startswith(SURFACE):  # surface only: see SURFACE
                self._phrases[phrase] = (fold(phrase[1:]),) if phrase[1:] else ()
                return self._phrases[phrase]
            vs = {fold(phrase)}
            if self._normalise is not None:
                vs.add(fold("".join(self._normalise(phrase))))
            self._phrases[phrase] = tuple(sorted(v for v in vs if v))
        return self._phrases[phrase]

    def _matcher(self, vocab):
        m = self._matcher_cache.get(id(vocab))
        if m is None:
            from spacy.matcher import Matcher

            m = Matcher(vocab)
            for p in self.patterns:
                for node in p.rule.walk():
                    if node.tokens is not None:
                        m.add(node.key, [[dict(t) for t in node.tokens]])
            self._matcher_cache[id(vocab)] = m
        return m

    def required_variants(self) -> dict[str, set[str] | None]:
        """Per code: the strings one of which must occur in a paragraph for the code to be
        suggested there by a rule (phrases outside ``none``); None when that cannot be told
        (token patterns). Codes without patterns get an empty set."""
        out: dict[str, set[str] | None] = {c: set() for c in self.codebook.codes}
        for pat in self.patterns:
            acc = out.get(pat.code_id)
            if acc is None:
                continue
            phrases = pat.rule.required_phrases()
            if phrases is None:
                out[pat.code_id] = None
                continue
            for ph in phrases:
                acc.update(self.variants(ph))
        return out

    @staticmethod
    def match_strings(doc) -> list[str]:
        """The strings phrases are matched in for a paragraph doc (surface and normalised forms,
        folded): a later re-tag of a few codes finds their candidate paragraphs in these."""
        if not len(doc):
            return []
        texts, norms, _ = _doc_arrays(doc)
        return [s for s, _ in _context_of(texts, norms, range(len(texts))).strings]

    # ------------------------------------------------------------ evaluate
    def _eval(self, rule: Rule, sent: _Context, para: _Context, spans: Mapping[str, list], scope: str,
              clip: tuple[int, int] | None = None) -> set[int] | None:
        """Matched token indices (paragraph-doc indices) or None when the rule fails.

        ``clip`` = the sentence's token range: hits of paragraph-scope parts are kept only inside it
        (those outside only enable the rule), so a sentence costs what it holds, not what its
        paragraph holds — a paragraph of a million characters stays linear."""
        scope = rule.scope or scope
        ctx = para if scope == "paragraph" else sent
        hits: set[int] = set()
        if rule.phrase is not None:
            found = self._find_phrase(rule.phrase, ctx)
            if not found:
                return None
            hits.update(_within(found, clip) if ctx.found is not None else found)
        if rule.tokens is not None:
            found = self._token_hits(rule.key, ctx, spans)
            if not found:
                return None
            hits.update(_within(found, clip) if ctx.found is not None else found)
        if rule.any:
            anyhits = [h for h in (self._eval(r, sent, para, spans, scope, clip) for r in rule.any) if h is not None]
            if not anyhits:
                return None
            for h in anyhits:
                hits |= h
        for r in rule.all + rule.near:
            h = self._eval(r, sent, para, spans, scope, clip)
            if h is None:
                return None
            hits |= h
        for r in rule.none:
            if self._eval(r, sent, para, spans, scope, clip) is not None:
                return None
        return hits

    def _token_hits(self, key: str, ctx: _Context, spans: Mapping[str, list]) -> list[int]:
        """Sorted token indices of the ``tokens`` matches of ``key`` lying wholly in the window
        (worked out once per paragraph window; a sentence looks only at its own spans)."""
        if ctx.found is not None and ("tokens", key) in ctx.found:
            return ctx.found[("tokens", key)]
        matches = spans.get(key, [])
        ids = ctx.token_ids
        if ctx.found is None and ids:  # a sentence: contiguous ids; its spans found by bisection
            lo, hi = ids[0], ids[-1] + 1
            starts = [m[0] for m in matches]
            matches = matches[bisect.bisect_left(starts, lo):bisect.bisect_left(starts, hi)]
            out = sorted({i for s, e in matches if e <= hi for i in range(s, e)})
        else:
            window = set(ids)
            out = sorted({i for s, e in matches if all(i in window for i in range(s, e)) for i in range(s, e)})
        if ctx.found is not None:
            ctx.found[("tokens", key)] = out
        return out

    def _find_phrase(self, phrase: str, ctx: _Context) -> Sequence[int] | None:
        if ctx.found is not None:  # a paragraph window: the same for every sentence of it
            if phrase not in ctx.found:
                hit = self._search(phrase, ctx)
                ctx.found[phrase] = sorted(hit) if hit else None
            return ctx.found[phrase]
        return self._search(phrase, ctx)

    def _search(self, phrase: str, ctx: _Context) -> set[int] | None:
        found: set[int] = set()
        strings = ctx.strings[:1] if phrase.startswith(SURFACE) else ctx.strings
        for v in self.variants(phrase):
            for string, cmap in strings:
                start = string.find(v)
                while start != -1:
                    found.update(ctx.token_ids[cmap[i]] for i in range(start, start + len(v)))
                    start = string.find(v, start + 1)
        return found or None

    def _denied(self, sent: _Context, later: str = "", later_from: int = 0) -> bool:
        """Does the sentence deny its problem or call it solved (``denial`` in the codebook)?

        * a denial cue (問題になっていない, 解消した …) with no contrast after it in the sentence —
          "採用に工夫を行ってはいるが、…厳しい" still states the problem, "以前は不足していたが、
          今は解消した" does not;
        * a problem told in the past (以前は, 数年前までは …) when what follows the cue, in the
          sentence or a later one of the paragraph (``later[later_from:]``, not copied: a
          paragraph may be very long), says it was solved (解消, 改善し, 今は回っている …).
        """
        for string, _ in sent.strings:
            for cue in (*self.denial, *self._denial_norm):
                i = string.rfind(cue)
                if i == -1:
                    continue
                rest = string[i + len(cue):]
                # a negated cue is no denial: 確保できて「いない」 meets 確保できている's normalised form
                if rest.startswith(NEGATIONS) or any(c in rest for c in self.contrast):
                    continue
                return True
        if self.past and self.solved:
            # told in the past, said to be solved after that: later in the sentence or paragraph
            surface = sent.strings[0][0]
            for c in self.past:
                i = surface.find(c)
                if i != -1:
                    tail = surface[i + len(c):]
                elif len(later) > later_from and any(c in string for string, _ in sent.strings[1:]):
                    tail = ""
                else:
                    continue
                if any(x in tail or later.find(x, later_from) != -1 for x in self.solved):
                    return True
        return False

    def _lacks(self, sent: _Context, hits: set[int] | None = None) -> bool:
        """Does the sentence say the matched thing is missing (``tagger.absent``: 雛形がなく,
        基準がはっきりしていない)? A practice is what an organisation does, not what it lacks.

        The cue must follow a matched word closely (within ``ABSENT_WINDOW`` characters): in
        使われていない特許は手放している the negation belongs to another clause. With no
        ``hits``, anywhere in the sentence. …止まっていないか確認する asks; it lacks nothing.
        """
        string, cmap = sent.strings[0]  # surface: the cues are inflected endings
        if hits:
            ends = sorted({i + 1 for i in range(len(string)) if sent.token_ids[cmap[i]] in hits})
            windows = [string[e:e + ABSENT_WINDOW] for e in ends]
        else:
            windows = [string]
        for w in windows:
            for cue in self.absent:
                i = w.find(cue)
                if i != -1 and not w[i + len(cue):].startswith("か"):
                    return True
        return False

    # ------------------------------------------------------------ public
    def tag(self, transcript: Transcript, docs: Sequence) -> list[Suggestion]:
        """Suggestions for every sentence segment of ``transcript`` (``docs``: one per paragraph)."""
        out: list[Suggestion] = []
        region = transcript.attributes.get("region")
        self._windows = {}  # what the model read of each paragraph, for model_codes() of the same docs
        self._words = {}
        self.logits = {}  # paragraph index → the model's base logits (the tag cache keeps them)
        self.added = {}  # paragraph index → code → the sentences the model put it on (kept too)
        for para, doc in zip(transcript.paragraphs, docs):
            if self.skipped(para):
                continue
            out.extend(s for s in self.tag_paragraph(transcript.id, para, doc) if self.allowed(s.code_id, region))
        return out

    def _base(self, para, doc) -> list[float]:
        """The model's base logits for a paragraph: from ``known_logits`` (the tag cache's, when a
        few codes are re-tagged) or worked out from its words now."""
        base = self.known_logits.get(para.index) if self.known_logits else None
        if base is None or len(base) != len(self.model.codes):
            window = self._window(doc)
            if len(window) < 2:  # worked out once per paragraph doc, like the window
                window = (*window, self.model.base_logits(window[0]))
                self._windows[id(doc)] = (doc, window)
            base = window[1]
        self.logits[para.index] = base
        return base

    def _lists(self, doc) -> tuple[list[str], list[str]]:
        """The normalised forms and POS of a paragraph doc's tokens, read once per tagging."""
        got = self._words.get(id(doc))
        if got is not None and got[0] is doc:
            return got[1], got[2]
        arrays = getattr(doc, "arrays", None)
        if arrays is not None:  # a LexDoc: its lists, no token objects
            norms, pos = list(arrays()[4]), list(doc.pos_tags())
        else:
            norms, pos = [t.norm_ for t in doc], [t.pos_ for t in doc]
        self._words[id(doc)] = (doc, norms, pos)
        return norms, pos

    def _window(self, doc) -> tuple:
        """(the model's window[, base logits]) of a paragraph doc, worked out once per tagging
        (and only where the tag cache does not already know the paragraph's logits)."""
        got = self._windows.get(id(doc))
        if got is not None and got[0] is doc:
            return got[1]
        value = (window_of(*self._lists(doc)),)
        self._windows[id(doc)] = (doc, value)
        return value

    def skipped(self, para) -> bool:
        """True for a paragraph the tagger leaves alone (``tagger.skip``)."""
        if para.speaker is not None and fold(para.speaker) in self.skip_speakers:
            return True
        return bool(self.skip_prefixes) and fold(para.text).startswith(self.skip_prefixes)

    def allowed(self, code_id: str, region: str | None) -> bool:
        """May ``code_id`` be suggested in a transcript of ``region`` (``tagger.regions``)?"""
        regions = self.kind_regions.get(self.codebook[code_id].kind)
        return regions is None or region in regions

    def tag_paragraph(self, transcript_id: str, para, doc) -> list[Suggestion]:
        if (not self.patterns and self.model is None) or len(doc) == 0:
            return []
        spans: dict[str, list] = {}
        if self._uses_tokens:
            for match_id, s, e in self._matcher(doc.vocab)(doc):
                spans.setdefault(doc.vocab.strings[match_id], []).append((s, e))
            for found in spans.values():
                found.sort()
        texts, norms, starts = _doc_arrays(doc)
        pctx = _context_of(texts, norms, range(len(texts)))
        pctx.found = {}
        folded = fold(para.text)
        ends = [a + len(w) for a, w in zip(starts, texts)]
        deny = self._uses_denial
        sentences = []
        for seg in split_sentences(para):
            a, b = seg.start - para.start, seg.end - para.start
            lo, hi = bisect.bisect_right(ends, a), bisect.bisect_left(starts, b)  # tokens overlapping [a, b)
            if lo < hi:
                sctx = _sub_context(pctx, lo, hi)
                sentences.append((seg, sctx, self._denied(sctx, folded, b) if deny else False))
        # a sentence that denies a problem lends no evidence to its neighbours' paragraph-scope
        # parts either (…海外出願はできています。大きな不足は感じていません。)
        open_ids = sorted({i for _, sctx, denied in sentences if not denied for i in sctx.token_ids})
        pctx_deny = pctx if len(open_ids) == len(texts) else _context_of(
            [texts[i] for i in open_ids], [norms[i] for i in open_ids], open_ids)
        pctx_deny.found = pctx_deny.found if pctx_deny is pctx else {}
        out = []
        for seg, sctx, denied in sentences:
            in_sent = set(sctx.token_ids)
            clip = (sctx.token_ids[0], sctx.token_ids[-1] + 1) if sctx.token_ids else (0, 0)
            best: dict[str, list] = {}
            for p in self.patterns:
                code = self.codebook[p.code_id]
                if code.deny and denied:
                    continue
                hits = self._eval(p.rule, sctx, pctx_deny if code.deny else pctx, spans, "sentence", clip)
                if hits is None or not (hits & in_sent):
                    continue
                if code.kind in self.absent_kinds and self._lacks(sctx, hits & in_sent):
                    continue
                best.setdefault(p.code_id, []).append((p, hits))
            for code_id, found in best.items():
                score = 1.0
                for p, _ in found:
                    score *= 1.0 - p.score
                # the words shown are the sentence's own (paragraph-scope parts only enable the rule)
                words, at = matched_runs(seg.text, seg.start - para.start, starts, ends,
                                         sorted(set().union(*(h for _, h in found)) & in_sent))
                out.append(
                    Suggestion(
                        transcript_id=transcript_id,
                        start=seg.start,
                        end=seg.end,
                        text=seg.text,
                        code_id=code_id,
                        patterns=tuple(p.id for p, _ in found),
                        matched=words,
                        score=round(1.0 - score, 4),
                        paragraph=para.index,
                        matched_at=at,
                    )
                )
        if self._known_model_codes:
            out = self._add_model(transcript_id, para, doc, out)
        return out

    def model_codes(self, transcript: Transcript, docs: Sequence) -> dict[str, list[int]]:
        """Per code, the paragraphs in which the learned suggester would add the code on its own,
        no rule of it firing (empty without a model). Elsewhere the code can be suggested only
        where its own rules fire, so a re-tag of the code after an edit of its patterns needs only
        these paragraphs and its phrases': what the model says of a code depends on no other
        code's patterns."""
        if self.model is None:
            return {}
        model = self.model
        region = transcript.attributes.get("region")
        codes = [c for c in self._known_model_codes if self.allowed(c, region)]
        if not codes:
            return {}
        out: dict[str, list[int]] = {}
        for para, doc in zip(transcript.paragraphs, docs):
            if self.skipped(para) or len(doc) == 0:
                continue
            scores = model.probabilities(self._base(para, doc), (), codes)
            for c in codes:
                if scores[c] >= model.thresholds[c] and scores[c] >= self.min_model_score:
                    out.setdefault(c, []).append(para.index)
        self._windows = {}
        self._words = {}
        return out

    def _add_model(self, transcript_id: str, para, doc, rules: list[Suggestion]) -> list[Suggestion]:
        """Let the learned suggester decide the codes it knows (see the module docstring): keep a
        rule suggestion where the code's probability reaches its threshold (scored with it), drop
        it elsewhere, and put a code no rule found on the sentences whose own probability reaches
        the threshold, or else on the paragraph's most probable sentence."""
        model = self.model
        cb = self.codebook
        known = self._known_model_codes
        learned = {r.code_id: cb.eval_code(r.code_id) for r in rules}
        hits = {m for m in learned.values() if m is not None}
        pscores = model.probabilities(self._base(para, doc), hits, known)
        out = []
        for r in rules:
            m = learned[r.code_id]
            if m not in pscores:
                out.append(r)  # a code the model does not decide: the rules' suggestion as it is
            elif pscores[m] >= model.thresholds[m]:
                p = pscores[m]
                out.append(replace(r, patterns=r.patterns + (f"model:{p:.2f}",), score=round(p, 4)))
        add = [c for c in known if c not in hits and pscores[c] >= model.thresholds[c] and pscores[c] >= self.min_model_score]
        if not add:
            return out
        sents = []
        norms, pos = self._lists(doc)
        tokens = list(doc)
        tstarts = [t.idx for t in tokens]
        tends = [t.idx + len(t.text) for t in tokens]
        for seg in split_sentences(para):
            a, b = seg.start - para.start, seg.end - para.start
            lo, hi = bisect.bisect_right(tends, a), bisect.bisect_left(tstarts, b)  # tokens overlapping [a, b)
            if lo < hi:
                sents.append((seg, lo, hi))
        if not sents:
            return out
        # which sentences a code goes on depends on the model and the sentences alone: the tag
        # cache keeps the choice, so a re-tag of a code after an edit of its patterns reads no
        # sentence's words again where the choice is known
        known = self.known_added.get(para.index, {}) if self.known_added else {}
        need = [c for c in add if not _choice_fits(known.get(c), len(sents))]
        scores = [model.scores(window_of(norms[lo:hi], pos[lo:hi]), (), need) for _, lo, hi in sents] if need else []
        choice = self.added.setdefault(para.index, {})
        pfold = fold(para.text)
        for c in add:
            if c in need:
                picked = [k for k, sc in enumerate(scores) if sc[c] >= model.thresholds[c]] or [
                    max(range(len(sents)), key=lambda k: scores[k][c])]
            else:
                picked = list(known[c])
            choice[c] = picked
            for seg, lo, hi in (sents[k] for k in picked):
                toks = tokens[lo:hi]
                if cb[c].deny and self._denied(_context(toks), pfold, seg.end - para.start):
                    continue
                if cb[c].kind in self.absent_kinds and self._lacks(_context(toks)):
                    continue
                p = pscores[c]
                words = {f for f in features_of(norms[lo:hi], pos[lo:hi]) if "+" not in f and model.weight(c, f) > 0}
                matched, at = matched_runs(seg.text, seg.start - para.start, tstarts[lo:hi], tends[lo:hi],
                                           [k for k, n in enumerate(norms[lo:hi]) if n in words])
                out.append(Suggestion(transcript_id, seg.start, seg.end, seg.text, c, (f"model:{p:.2f}",), matched,
                                      round(p, 4), para.index, at))
        return out
