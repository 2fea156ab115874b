"""Stage 3: Japanese NLP with spaCy + GiNZA, cached so that no text is parsed twice.

Each paragraph is parsed as its own doc (Sudachi refuses inputs over ~49 KB, and a paragraph is
the widest window any rule looks at). The docs of one transcript are stored in one cache file
keyed by the transcript's paragraph texts, the model name and version, the Sudachi and dictionary
versions and the pipeline settings; each file carries its format, key and a checksum, and a
missing, corrupt or foreign one is ignored and rebuilt.

Only what the codebook needs is run:

* **Lexical path** (the rules use only token attributes: phrases, ``NORM``/``LEMMA``/``TAG``/
  ``POS`` ...): GiNZA's tokenizer is spaCy's ``JapaneseTokenizer`` over SudachiPy (split mode C).
  This path calls SudachiPy directly and builds light :class:`LexDoc` objects with exactly the
  tokens, ``norm_``, ``lemma_`` and ``tag_`` GiNZA's tokenizer gives (``LexDoc.to_spacy`` adds
  ``pos`` by the same rules, for spaCy ``Matcher`` patterns). No spaCy import, no model load:
  about 4x faster than ``nlp.make_doc``, 60 % of raw SudachiPy's speed (bench/results.md).
* **Pipeline path** (``DEP``/``HEAD``/``MORPH``/entity rules, or ``tagger: {parse: true}``):
  ``spacy.load(model)`` with only the needed components; docs cached as DocBin files.

:func:`map_parsed` runs a function over every transcript's docs in ``jobs`` processes (each
worker parses, caches and applies the function; only the function's small result comes back),
holding at most a few transcripts' docs at a time, so memory stays flat as the corpus grows.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from .errors import ProjectError
from .files import atomic_write_bytes, read_framed, write_framed
from .transcripts import Transcript

MODEL = "ja_ginza"
MAX_BYTES = 30000  # Sudachi's hard limit is 49149 bytes per input; stay well below.
TOKENIZER_ATTRS = {"NORM", "LEMMA", "ORTH", "TEXT", "LOWER", "TAG", "POS", "IS_PUNCT", "IS_DIGIT", "LENGTH", "SHAPE"}
PARSER_ATTRS = {"DEP", "HEAD", "MORPH", "SENT_START", "IS_SENT_START"}
LEX_FORMAT = "coding-lex/2"  # bump when the lexical cache layout or tokenization changes
JA_TOKENIZER = "spacy.ja.JapaneseTokenizer"
GAP_TAG = "空白"


# ---------------------------------------------------------------- settings
@dataclass(frozen=True)
class NlpSettings:
    """What determines a parse: the model and which components run."""

    model: str = MODEL
    components: tuple[str, ...] = ()  # () = tokenizer only (the lexical path)

    @classmethod
    def for_needs(cls, attrs: Iterable[str], *, parse: bool = False, ner: bool = False, model: str = MODEL) -> "NlpSettings":
        attrs = {a.upper() for a in attrs}
        comps: list[str] = []
        if parse or attrs & PARSER_ATTRS:
            comps += ["tok2vec", "parser"]
        if ner or "ENT_TYPE" in attrs or "ENT_IOB" in attrs:
            comps += ["tok2vec", "ner"] if "tok2vec" not in comps else ["ner"]
        return cls(model=model, components=tuple(dict.fromkeys(comps)))

    @property
    def lexical(self) -> bool:
        """True when only the tokenizer is needed and it is plain Sudachi (no spaCy at all)."""
        return not self.components and tokenizer_config(self.model)[0] == JA_TOKENIZER

    def key(self) -> str:
        """Everything a cached parse depends on (no model load, no spaCy import)."""
        libs = f"sudachipy{_dist_version('sudachipy')}-dict{_dist_version('sudachidict-core')}"
        if self.lexical:
            split = tokenizer_config(self.model)[1] or "A"
            py = "py{}.{}".format(*__import__("sys").version_info[:2])
            return f"{self.model}-{model_version(self.model)}-lex{split}-{libs}-{py}-{LEX_FORMAT}"
        return f"{self.model}-{model_version(self.model)}-{'+'.join(self.components) or 'tok'}-{libs}-spacy{_dist_version('spacy')}"


_VERSIONS: dict[str, str] = {}
_DIST_MODULES = {"sudachidict-core": "sudachidict_core"}  # distribution → its top-level module
_LISTINGS: dict[str, list[str]] = {}


def _norm_dist(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _dist_version(name: str) -> str:
    """An installed distribution's version: from the ``<name>-<version>.dist-info`` folder beside
    its module (one directory listing, no import), else from importlib.metadata."""
    if name not in _VERSIONS:
        found: list[str] = []
        try:
            import importlib.util

            spec = importlib.util.find_spec(_DIST_MODULES.get(name, name.replace("-", "_")))
            if spec is not None:
                where = Path(spec.origin) if spec.origin and spec.origin not in ("namespace", "built-in") else None
                if spec.submodule_search_locations:
                    where = Path(list(spec.submodule_search_locations)[0]) / "__init__.py"
                site = str(where.parent.parent) if where else ""
                if site and site not in _LISTINGS:
                    _LISTINGS[site] = os.listdir(site)
                want = _norm_dist(name)
                for entry in _LISTINGS.get(site, []):
                    if entry.endswith(".dist-info"):
                        dist, _, ver = entry[: -len(".dist-info")].rpartition("-")
                        if _norm_dist(dist) == want:
                            found.append(ver)
        except Exception:
            found = []
        if len(found) == 1:
            _VERSIONS[name] = found[0]
        else:
            try:
                from importlib.metadata import version

                _VERSIONS[name] = version(name)
            except Exception:
                _VERSIONS[name] = "unknown"
    return _VERSIONS[name]


def model_version(model: str = MODEL) -> str:
    """The installed model's version, read from package metadata (no model load)."""
    v = _dist_version(model.replace("_", "-"))
    if v == "unknown":  # a model path: its meta.json
        meta = Path(model) / "meta.json"
        try:
            v = json.loads(meta.read_text(encoding="utf-8"))["version"]
        except Exception:
            v = "unknown"
    return v


_TOKCONF: dict[str, tuple[str | None, str | None]] = {}


def tokenizer_config(model: str = MODEL) -> tuple[str | None, str | None]:
    """(tokenizer factory, split mode) from the model's config.cfg, read without importing spaCy."""
    if model in _TOKCONF:
        return _TOKCONF[model]
    out: tuple[str | None, str | None] = (None, None)
    try:
        root = Path(model)
        if not root.is_dir():
            import importlib.util

            spec = importlib.util.find_spec(model)
            locs = list(spec.submodule_search_locations or []) if spec else []
            root = Path(locs[0]) if locs else root
        cfgs = [root / "config.cfg"] if (root / "config.cfg").exists() else sorted(root.glob("*/config.cfg"))
        if cfgs:
            text = cfgs[-1].read_text(encoding="utf-8")
            m = re.search(r"^\[nlp\.tokenizer\]\s*$(.*?)(?=^\[|\Z)", text, flags=re.M | re.S)
            if m:
                fac = re.search(r'^@tokenizers\s*=\s*"([^"]+)"', m.group(1), flags=re.M)
                sm = re.search(r'^split_mode\s*=\s*"?([A-Za-z]+)"?', m.group(1), flags=re.M)
                split = sm.group(1) if sm and sm.group(1) != "null" else None
                out = (fac.group(1) if fac else None, split)
    except Exception:
        out = (None, None)
    _TOKCONF[model] = out
    return out


# ---------------------------------------------------------------- spaCy pipeline
_NLP_CACHE: dict[NlpSettings, object] = {}


def load_nlp(settings: NlpSettings):
    """Load the GiNZA pipeline with only the requested components (memoised per process)."""
    if settings in _NLP_CACHE:
        return _NLP_CACHE[settings]
    import spacy
    import spacy.util

    try:
        meta = spacy.util.get_model_meta(spacy.util.get_package_path(settings.model))
        names = list(meta.get("components") or meta.get("pipeline") or [])
        keep = set(settings.components)
        nlp = spacy.load(settings.model, exclude=[n for n in names if n not in keep])
    except (OSError, ImportError) as e:
        raise ProjectError(
            f"cannot load the spaCy model '{settings.model}': {e}. Install it with: pip install ja-ginza"
        ) from None
    _NLP_CACHE[settings] = nlp
    return nlp


_JA_VOCAB = None


def ja_vocab():
    """A Japanese vocab for docs built without the model (cached lexical docs, DocBin reads)."""
    global _JA_VOCAB
    if _JA_VOCAB is None:
        import spacy

        _JA_VOCAB = spacy.blank("ja").vocab
    return _JA_VOCAB


# ---------------------------------------------------------------- lexical path
POS_MAPS_FILE = Path(__file__).with_name("data") / "ja_pos_maps.json"


@functools.lru_cache(maxsize=None)
def ja_pos_maps() -> tuple[dict, dict, dict]:
    """spaCy's Japanese tag → UD POS tables (``spacy.lang.ja``: TAG_MAP, TAG_ORTH_MAP,
    TAG_BIGRAM_MAP) with POS names, read from ``coding/data/ja_pos_maps.json`` (written by
    :func:`dump_ja_pos_maps`; a test checks the copy against the installed spaCy)."""
    data = json.loads(POS_MAPS_FILE.read_text(encoding="utf-8"))
    return data["tag"], data["orth"], {(a, b): (cur, nxt) for a, b, cur, nxt in data["bigram"]}


def dump_ja_pos_maps() -> str:
    """The JSON text of :data:`POS_MAPS_FILE` from the installed spaCy."""
    import spacy
    from spacy.lang.ja.tag_bigram_map import TAG_BIGRAM_MAP
    from spacy.lang.ja.tag_map import TAG_MAP
    from spacy.lang.ja.tag_orth_map import TAG_ORTH_MAP
    from spacy.symbols import NAMES, POS

    def name(p):
        return None if p is None else (NAMES[p] if isinstance(p, int) else str(p))

    data = {
        "spacy": spacy.__version__,
        "tag": {t: name(v[POS]) for t, v in sorted(TAG_MAP.items())},
        "orth": {t: {o: name(p) for o, p in sorted(m.items())} for t, m in sorted(TAG_ORTH_MAP.items())},
        "bigram": sorted([a, b, name(cur), name(nxt)] for (a, b), (cur, nxt) in TAG_BIGRAM_MAP.items()),
    }
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


class LexToken:
    """A token of a :class:`LexDoc`, with the attributes of a GiNZA tokenizer token."""

    __slots__ = ("doc", "i", "idx", "text", "whitespace_", "tag_", "lemma_", "norm_")

    def __init__(self, doc, i, idx, text, whitespace_, tag_, lemma_, norm_):
        self.doc, self.i, self.idx, self.text = doc, i, idx, text
        self.whitespace_, self.tag_, self.lemma_, self.norm_ = whitespace_, tag_, lemma_, norm_

    @property
    def orth_(self) -> str:
        return self.text

    @property
    def text_with_ws(self) -> str:
        return self.text + self.whitespace_

    @property
    def pos_(self) -> str:
        return self.doc.pos_tags()[self.i]

    @property
    def is_space(self) -> bool:
        return self.text.isspace()

    def __len__(self) -> int:
        return len(self.text)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


class LexDoc:
    """Tokens of one text as GiNZA's tokenizer splits them, without spaCy.

    Supports what rules read from a ``Doc``: ``len``, iteration, indexing, ``text``, and per
    token ``text``, ``idx``, ``i``, ``norm_``, ``lemma_``, ``tag_``, ``pos_``, ``whitespace_``.
    Token objects are made on first use, so a cached doc nobody looks at costs next to nothing.
    """

    __slots__ = ("text", "_arrays", "_raw", "_tokens", "_pos")
    vocab = None  # no spaCy vocab: use to_spacy() for Matcher patterns

    def __init__(self, text: str, words: Sequence[str], spaces: Sequence[bool], tags: Sequence[str],
                 lemmas: Sequence[str], norms: Sequence[str]):
        self.text = text
        self._arrays: tuple | None = (words, spaces, tags, lemmas, norms)
        self._raw: tuple | None = None
        self._tokens: list[LexToken] | None = None
        self._pos: list[str] | None = None

    @classmethod
    def _from_cache(cls, text: str, raw: tuple) -> "LexDoc":
        """A doc from the cache's arrays (lens, spaces, tag ids, lemmas, norms, tag table)."""
        doc = cls.__new__(cls)
        doc.text, doc._arrays, doc._raw, doc._tokens, doc._pos = text, None, raw, None, None
        return doc

    def arrays(self) -> tuple[list[str], list[bool], list[str], list[str], list[str]]:
        """words, spaces, tags, lemmas, norms."""
        if self._arrays is None:
            lens, spaces, tag_ids, lemmas, norms, table = self._raw
            text = self.text
            words, pos = [], 0
            for n, sp in zip(lens, spaces):
                words.append(text[pos : pos + n])
                pos += n + (sp == "1")
            self._arrays = (
                words, [c == "1" for c in spaces], [table[i] for i in tag_ids],
                [w if x == 0 else x for w, x in zip(words, lemmas)],
                [w if x == 0 else x for w, x in zip(words, norms)],
            )
            self._raw = None
        return self._arrays

    @property
    def tokens(self) -> list[LexToken]:
        if self._tokens is None:
            words, spaces, tags, lemmas, norms = self.arrays()
            toks = []
            idx = 0
            for i, w in enumerate(words):
                sp = " " if spaces[i] else ""
                toks.append(LexToken(self, i, idx, w, sp, tags[i], lemmas[i], norms[i]))
                idx += len(w) + len(sp)
            self._tokens = toks
        return self._tokens

    def __len__(self) -> int:
        if self._tokens is not None:
            return len(self._tokens)
        return len(self._arrays[0]) if self._arrays is not None else len(self._raw[0])

    def __iter__(self):
        return iter(self.tokens)

    def __getitem__(self, i):
        return self.tokens[i]

    def __repr__(self) -> str:
        return self.text

    def pos_tags(self) -> list[str]:
        """Universal POS by spaCy's Japanese tag-map rules (``resolve_pos``), from a copy of its
        tables (:func:`ja_pos_maps`), so that reading POS does not import spaCy."""
        if self._pos is None:
            tag_map, orth_map, bigram_map = ja_pos_maps()
            out: list[str] = []
            words, _, tags, _, _ = self.arrays()
            n = len(tags)
            nxt = None
            for i, tag in enumerate(tags):
                if nxt:
                    out.append(nxt)
                    nxt = None
                    continue
                pos = None
                by_orth = orth_map.get(tag)
                if by_orth is not None:
                    pos = by_orth.get(words[i])
                if pos is None and i + 1 < n:
                    pair = bigram_map.get((tag, tags[i + 1]))
                    if pair is not None:
                        pos, nxt = pair  # pos None: the tag's own POS, below
                if pos is None:
                    pos = tag_map.get(tag, "X")
                out.append(pos)
            self._pos = out
        return self._pos

    def to_spacy(self, vocab=None):
        """The same tokens as a spaCy ``Doc`` (ORTH, spaces, TAG, POS, LEMMA, NORM)."""
        from spacy.tokens import Doc

        words, spaces, tags, lemmas, norms = self.arrays()
        doc = Doc(vocab if vocab is not None else ja_vocab(), words=words, spaces=spaces, tags=tags,
                  pos=self.pos_tags() if words else None, lemmas=lemmas)
        for t, n in zip(doc, norms):
            t.norm_ = n
        return doc


class LexTokenizer:
    """SudachiPy, used exactly as spaCy's ``JapaneseTokenizer`` uses it (tokens, tags, lemmas,
    norms, whitespace handling), minus what only other components read (sub-tokens, readings)."""

    def __init__(self, split_mode: str | None = "C"):
        from sudachipy import dictionary, tokenizer

        mode = {None: tokenizer.Tokenizer.SplitMode.A, "A": tokenizer.Tokenizer.SplitMode.A,
                "B": tokenizer.Tokenizer.SplitMode.B, "C": tokenizer.Tokenizer.SplitMode.C}[split_mode]
        self._tok = dictionary.Dictionary().create(mode=mode)
        self._tags: dict[int, str] = {}

    def _dtokens(self, text: str) -> list[tuple[str, str, str, str]]:
        """(surface, tag, lemma, norm) of Sudachi's morphemes, consecutive spaces merged."""
        out = []
        tags = self._tags
        prev_space = False
        for m in self._tok.tokenize(text):
            s = m.surface()
            if not s:
                continue
            pid = m.part_of_speech_id()
            tag = tags.get(pid)
            if tag is None:
                tag = tags[pid] = "-".join(x for x in m.part_of_speech()[:4] if x != "*")
            space = tag == GAP_TAG and s.isspace()
            if space and prev_space:
                prev_space = True
                continue
            prev_space = space
            out.append((s, tag, m.dictionary_form(), m.normalized_form()))
        return out

    def readings(self, text: str) -> list[tuple[str, str]]:
        """``(surface, katakana reading)`` of Sudachi's morphemes (for the kana and romaji forms of names)."""
        return [(m.surface(), m.reading_form()) for m in self._tok.tokenize(text) if m.surface()]

    def arrays(self, text: str):
        """words, spaces, tags, lemmas, norms for ``text`` (spaCy's get_dtokens_and_spaces)."""
        dt = self._dtokens(text)
        words, spaces, tags, lemmas, norms = [], [], [], [], []
        if not dt:
            return words, spaces, tags, lemmas, norms
        if all(d[0].isspace() for d in dt):
            return [text], [False], [GAP_TAG], [text], [text]
        pos = 0
        n = len(dt)
        for i, (w, tag, lemma, norm) in enumerate(dt):
            if w.isspace():
                continue
            start = text.find(w, pos)
            if start < 0:
                raise ValueError(f"tokens do not match the text: {text[:40]!r}")
            if start > pos:
                gap = text[pos:start]
                words.append(gap); spaces.append(False); tags.append(GAP_TAG); lemmas.append(gap); norms.append(gap)
                pos = start
            words.append(w); spaces.append(False); tags.append(tag); lemmas.append(lemma or w); norms.append(norm)
            pos += len(w)
            if i + 1 < n and dt[i + 1][0] == " ":
                spaces[-1] = True
                pos += 1
        if pos < len(text):
            gap = text[pos:]
            words.append(gap); spaces.append(False); tags.append(GAP_TAG); lemmas.append(gap); norms.append(gap)
        return words, spaces, tags, lemmas, norms

    def __call__(self, text: str) -> LexDoc:
        """One doc per text; an over-long text is tokenized in chunks (as ``parse_texts`` does)."""
        pieces = chunks(text)
        if len(pieces) == 1:
            return LexDoc(text, *self.arrays(text))
        acc: list[list] = [[], [], [], [], []]
        for c in pieces:
            for a, b in zip(acc, self.arrays(c)):
                a.extend(b)
        return LexDoc(text, *acc)

    def norms(self, text: str) -> list[str]:
        return self.arrays(text)[4]


_LEX: dict[str | None, LexTokenizer] = {}


def lexical_tokenizer(settings: NlpSettings | None = None) -> LexTokenizer:
    split = tokenizer_config((settings or NlpSettings()).model)[1] or "A"
    if split not in _LEX:
        _LEX[split] = LexTokenizer(split)
    return _LEX[split]


def normaliser(settings: NlpSettings | None = None) -> Callable[[str], list[str]]:
    """``text -> normalised forms`` with the tokenizer the transcripts get (for phrase rules)."""
    settings = settings or NlpSettings()
    tok_only = NlpSettings(model=settings.model)
    if tok_only.lexical:
        return lexical_tokenizer(tok_only).norms
    return lambda s: [t.norm_ for t in load_nlp(tok_only).make_doc(s)]


def tokenize_phrase(text: str, settings: NlpSettings | None = None) -> list[str]:
    """Normalised forms of a phrase, with the same tokenizer the transcripts get."""
    return normaliser(settings)(text)


def empty_like(doc):
    """An empty doc of the same kind as ``doc`` (a LexDoc, or a spaCy Doc of its vocab)."""
    if isinstance(doc, LexDoc):
        return LexDoc("", [], [], [], [], [])
    from spacy.tokens import Doc

    return Doc(doc.vocab, words=[])


# ---------------------------------------------------------------- cache
def paragraph_texts(t: Transcript) -> list[str]:
    return [p.text for p in t.paragraphs]


def cache_key(t: Transcript, settings: NlpSettings) -> str:
    h = hashlib.sha1()
    h.update(settings.key().encode())
    for text in paragraph_texts(t):
        h.update(b"\x00")
        h.update(text.encode("utf-8"))
    return h.hexdigest()[:24]


class DocCache:
    """One file per (transcript content, settings) under ``folder``: ``<key>.lex`` for the
    lexical path, ``<key>.spacy`` (DocBin) for the pipeline path. Whatever cannot be read back
    exactly — missing, truncated, corrupt, another format, other texts — counts as a miss."""

    def __init__(self, folder: Path, *, writable: bool = True):
        self.folder = Path(folder)
        self.writable = writable  # False: read what is cached, write nothing (a project with problems)

    def path(self, key: str, lexical: bool = False) -> Path:
        return self.folder / (f"{key}.lex" if lexical else f"{key}.spacy")

    # -- lexical
    def load_lex(self, key: str, expected: Sequence[str]) -> list[LexDoc] | None:
        p = self.path(key, True)
        try:
            data = read_framed(p, LEX_FORMAT, key)
            if data is None:
                return None
            table = data["tags"]
            paras = data["paras"]
            if len(paras) != len(expected):
                return None
            docs = []
            ntags = len(table)
            for (text, lens, spaces, tag_ids, lemmas, norms), want in zip(paras, expected):
                if text != want or not (len(lens) == len(spaces) == len(tag_ids) == len(lemmas) == len(norms)):
                    return None
                if sum(lens) + spaces.count("1") != len(text) or (tag_ids and not 0 <= min(tag_ids) <= max(tag_ids) < ntags):
                    return None
                docs.append(LexDoc._from_cache(text, (lens, spaces, tag_ids, lemmas, norms, table)))
            return docs
        except Exception:  # missing, unreadable, corrupt or foreign: parse again
            return None

    def save_lex(self, key: str, docs: Sequence[LexDoc]) -> None:
        if not self.writable:
            return
        table: dict[str, int] = {}
        paras = []
        for d in docs:
            words, spaces, tags, lemmas, norms = d.arrays()
            paras.append([
                d.text, [len(w) for w in words], "".join("1" if s else "0" for s in spaces),
                [table.setdefault(t, len(table)) for t in tags],
                [0 if l == w else l for w, l in zip(words, lemmas)],
                [0 if n == w else n for w, n in zip(words, norms)],
            ])
        write_framed(self.path(key, True), LEX_FORMAT, key, {"tags": list(table), "paras": paras}, codec="marshal")

    # -- spaCy DocBin
    def load(self, key: str, vocab, expected: Sequence[str]) -> list | None:
        """The cached spaCy docs, or None when missing, unreadable or not matching ``expected``."""
        p = self.path(key)
        try:
            from spacy.tokens import DocBin

            docs = list(DocBin().from_bytes(p.read_bytes()).get_docs(vocab))
        except Exception:
            return None
        if [d.text for d in docs] != list(expected):
            return None
        return docs

    def save(self, key: str, docs: Sequence) -> None:
        if not self.writable:
            return
        from spacy.tokens import DocBin

        attrs = ["ORTH", "NORM", "LEMMA", "TAG", "POS", "MORPH", "HEAD", "DEP", "ENT_IOB", "ENT_TYPE", "SENT_START"]
        data = DocBin(attrs=attrs, store_user_data=False, docs=docs).to_bytes()
        atomic_write_bytes(self.path(key), data, fsync=False)


# ---------------------------------------------------------------- parsing
def chunks(text: str) -> list[str]:
    """Split an over-long paragraph at sentence ends so each chunk stays under Sudachi's limit."""
    if len(text) * 4 <= MAX_BYTES or len(text.encode("utf-8")) <= MAX_BYTES:
        return [text]
    out: list[str] = []
    cur: list[str] = []
    size = 0  # bytes in cur (counted piece by piece: re-encoding the growing chunk would be quadratic)
    for piece in _split_keep(text):
        n = len(piece.encode("utf-8"))
        if cur and size + n > MAX_BYTES:
            out.append("".join(cur))
            cur, size = [], 0
        while n > MAX_BYTES:  # a single monster sentence
            cut = MAX_BYTES // 4
            if cur:
                out.append("".join(cur))
                cur, size = [], 0
            out.append(piece[:cut])
            piece = piece[cut:]
            n = len(piece.encode("utf-8"))
        cur.append(piece)
        size += n
    if cur:
        out.append("".join(cur))
    return out


def _split_keep(text: str) -> list[str]:
    out, start = [], 0
    for i, c in enumerate(text):
        if c in "。！？!?\n":
            out.append(text[start : i + 1])
            start = i + 1
    if start < len(text):
        out.append(text[start:])
    return out


def parse_texts(nlp, texts: Sequence[str], *, jobs: int = 1) -> list:
    """Parse texts with a spaCy ``nlp`` (over-long ones in chunks, merged back into one Doc each)."""
    from spacy.tokens import Doc

    pieces: list[str] = []
    owners: list[int] = []
    for i, t in enumerate(texts):
        for c in chunks(t):
            pieces.append(c)
            owners.append(i)
    if jobs > 1 and len(pieces) >= 4 * jobs:
        docs = list(nlp.pipe(pieces, n_process=jobs, batch_size=max(8, len(pieces) // (jobs * 4))))
    else:
        docs = list(nlp.pipe(pieces, batch_size=64))
    import warnings

    grouped: list[list] = [[] for _ in texts]
    for owner, d in zip(owners, docs):
        grouped[owner].append(d)
    out = []
    for g in grouped:
        if not g:
            out.append(nlp.make_doc(""))
        elif len(g) == 1:
            out.append(g[0])
        else:
            with warnings.catch_warnings():  # W102: GiNZA's sub_tokens user data is not merged
                warnings.simplefilter("ignore")
                out.append(Doc.from_docs(g, ensure_whitespace=False))
    return out


@dataclass
class ParseStats:
    parsed: int = 0  # transcripts parsed now
    cached: int = 0  # transcripts whose docs came from the cache
    chars_parsed: int = 0
    model_loaded: bool = False  # a tokenizer or model was loaded (something had to be parsed)


class _Parser:
    """Per-process state: gives a transcript's docs from the cache or by parsing (and caching)."""

    def __init__(self, settings: NlpSettings, folder: str | Path, as_spacy: bool = False, writable: bool = True):
        self.settings = settings
        self.cache = DocCache(Path(folder), writable=writable)
        self.as_spacy = as_spacy
        self.lexical = settings.lexical
        self.key_base = settings.key()

    def docs(self, t: Transcript) -> tuple[list, bool]:
        texts = paragraph_texts(t)
        key = cache_key(t, self.settings)
        if self.lexical:
            docs = self.cache.load_lex(key, texts)
            parsed = docs is None
            if parsed:
                tok = lexical_tokenizer(self.settings)
                docs = [tok(x) for x in texts]
                self.cache.save_lex(key, docs)
            if self.as_spacy:
                vocab = ja_vocab()
                docs = [d.to_spacy(vocab) for d in docs]
            return docs, parsed
        nlp = _NLP_CACHE.get(self.settings)
        docs = self.cache.load(key, nlp.vocab if nlp is not None else ja_vocab(), texts)
        if docs is not None:
            return docs, False
        docs = parse_texts(load_nlp(self.settings), texts)
        self.cache.save(key, docs)
        return docs, True


_WORKER: tuple[_Parser, Callable, list] | None = None
# How worker processes start: None = fork on Linux (cheap: workers share what is loaded), spawn
# elsewhere (fork is unsafe on macOS; Windows has no fork).
START_METHOD: str | None = None
MIN_PARALLEL_CHARS = 30_000  # less text than this is done in-process (starting workers costs more)


def quiet_worker() -> None:
    """In a worker process: Ctrl+C reaches the whole process group, and only the parent handles it
    (it ends the pool); a worker interrupted mid-task would leave the pool waiting for it forever.
    :func:`worker_pool` starts workers with SIGINT blocked, so none is interrupted before this runs."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _end_with_parent()


def _end_with_parent() -> None:
    """On Linux, ask the kernel to end this worker when its parent dies: a parent killed outright
    (SIGKILL, out of memory) would otherwise leave workers waiting on the task queue for ever."""
    import os
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, 15)  # SIGTERM
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the request was made
        os._exit(1)


def worker_pool(processes: int, initializer: Callable, initargs: tuple):
    """A multiprocessing pool whose workers ignore Ctrl+C from their first instruction (fork on
    Linux, spawn elsewhere): SIGINT is blocked while they start, so it cannot reach one before
    :func:`quiet_worker` runs; the parent gets it afterwards and ends the pool."""
    import multiprocessing as mp
    import signal
    import sys

    ctx = mp.get_context(START_METHOD or ("fork" if sys.platform.startswith("linux") else "spawn"))
    block = hasattr(signal, "pthread_sigmask")
    if block:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return ctx.Pool(processes, initializer=initializer, initargs=initargs)
    finally:
        if block:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _init_worker(settings: NlpSettings, folder: str, work: Callable, as_spacy: bool, transcripts: list) -> None:
    quiet_worker()
    global _WORKER
    _WORKER = (_Parser(settings, folder, as_spacy), work, transcripts)


def _run_worker(batch: list[int]) -> list[tuple[Any, bool]]:
    """The transcripts at these indices, parsed (or read from the cache) and worked on."""
    assert _WORKER is not None
    parser, work, transcripts = _WORKER
    out = []
    for i in batch:
        t = transcripts[i]
        docs, parsed = parser.docs(t)
        out.append((work(t, docs), parsed))
        del docs
    return out


def _identity(t: Transcript, docs: list) -> list:
    return docs


def _nothing(t: Transcript, docs: list) -> None:
    return None


def map_parsed(
    transcripts: Sequence[Transcript],
    settings: NlpSettings,
    cache: DocCache,
    work: Callable[[Transcript, list], Any] = _identity,
    *,
    jobs: int = 1,
    stats: ParseStats | None = None,
    as_spacy: bool = False,
    min_parallel_chars: int | None = None,
    task_chars: int = 25_000,
) -> Iterator[tuple[Transcript, Any]]:
    """Yield ``(transcript, work(transcript, docs))`` in order; docs come from the cache or are
    parsed (and cached) now.

    With ``jobs > 1`` the transcripts are spread over that many worker processes, each parsing,
    caching and running ``work`` itself, a few transcripts (``task_chars`` of text) per task; at
    most ``2 * jobs`` tasks are in flight, so memory stays flat. ``work`` must be picklable where processes are spawned (a module-level function or
    an instance of a module-level class). ``as_spacy`` turns lexical docs into spaCy ``Doc``s (for
    ``Matcher`` patterns). Small inputs are done in this process.
    """
    stats = stats if stats is not None else ParseStats()
    chars = {id(t): sum(len(p.text) for p in t.paragraphs) for t in transcripts}

    def account(t: Transcript, parsed: bool) -> None:
        if parsed:
            stats.parsed += 1
            stats.chars_parsed += chars[id(t)]
            stats.model_loaded = True
        else:
            stats.cached += 1

    if min_parallel_chars is None:
        min_parallel_chars = MIN_PARALLEL_CHARS
    if jobs <= 1 or len(transcripts) < 2 or sum(chars.values()) < min_parallel_chars:
        parser = _Parser(settings, cache.folder, as_spacy, cache.writable)
        for t in transcripts:
            docs, parsed = parser.docs(t)
            account(t, parsed)
            yield t, work(t, docs)
            del docs
        return

    batches: list[list[int]] = []  # a few transcripts per task: fewer round trips
    size = 0
    for i, t in enumerate(transcripts):
        if not batches or size >= task_chars:
            batches.append([])
            size = 0
        batches[-1].append(i)
        size += chars[id(t)]
    # The workers get the transcripts when they start (inherited with fork, pickled once with
    # spawn); a task is a few indices. A task that held the texts could fill the pipe to the
    # workers, and the pool's feeder thread, stuck writing it, would hang Ctrl+C's clean-up.
    with worker_pool(jobs, _init_worker, (settings, str(cache.folder), work, as_spacy, list(transcripts))) as pool:
        window: deque = deque()
        it = iter(batches)
        for batch in it:
            window.append((batch, pool.apply_async(_run_worker, (batch,))))
            if len(window) >= 2 * jobs:
                break
        while window:
            batch, fut = window.popleft()
            results = fut.get()
            nxt = next(it, None)
            if nxt is not None:
                window.append((nxt, pool.apply_async(_run_worker, (nxt,))))
            for i, (result, parsed) in zip(batch, results):
                account(transcripts[i], parsed)
                yield transcripts[i], result


def iter_parsed(
    transcripts: Sequence[Transcript],
    settings: NlpSettings,
    cache: DocCache,
    *,
    jobs: int = 1,
    stats: ParseStats | None = None,
    on_done: Callable[[Transcript], None] | None = None,
    as_spacy: bool = True,
) -> Iterator[tuple[Transcript, list]]:
    """Yield ``(transcript, paragraph docs)`` in order, parsing only what the cache lacks.

    Streams one transcript at a time (memory stays flat) and loads nothing when every parse is
    cached. Docs are spaCy ``Doc``s unless ``as_spacy=False``, which gives the lexical path's
    :class:`LexDoc`s as they are (no spaCy import). For parallel work use :func:`map_parsed`,
    which runs the consumer in the worker processes too.
    """
    if jobs > 1 and cache.writable:  # workers parse and cache; this process reads each transcript back in turn
        parser = _Parser(settings, cache.folder, as_spacy)
        for t, _ in map_parsed(transcripts, settings, cache, _nothing, jobs=jobs, stats=stats):
            yield t, parser.docs(t)[0]
            if on_done is not None:
                on_done(t)
        return
    for t, docs in map_parsed(transcripts, settings, cache, _identity, jobs=1, stats=stats, as_spacy=as_spacy):
        yield t, docs
        if on_done is not None:
            on_done(t)
