"""Stage 3: Japanese NLP with spaCy + GiNZA, cached so that no text is parsed twice.

Each paragraph is parsed as its own ``Doc`` (GiNZA's Sudachi tokenizer refuses inputs over ~49 KB,
and a paragraph is the widest window any rule looks at). The docs of one transcript are stored in
one DocBin file keyed by the transcript's paragraph texts, the model name and version and the
pipeline settings; a corrupt or foreign cache file is ignored and rebuilt.

Only the components the codebook needs are run. Rules match on Sudachi's normalised form
(``Token.norm_``: ロイヤリティ/ロイヤルティ → ロイヤリティー, ＴＬＯ → TLO, ３ → 3), which the
tokenizer alone provides; the dependency parser is loaded only when a rule asks for DEP/HEAD or
the denial check is set to use the parse.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from .transcripts import Transcript

MODEL = "ja_ginza"
MAX_BYTES = 30000  # Sudachi's hard limit is 49149 bytes per input; stay well below.
TOKENIZER_ATTRS = {"NORM", "LEMMA", "ORTH", "TEXT", "LOWER", "TAG", "POS", "IS_PUNCT", "IS_DIGIT", "LENGTH", "SHAPE"}
PARSER_ATTRS = {"DEP", "HEAD", "MORPH", "SENT_START", "IS_SENT_START"}


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

    def key(self) -> str:
        return f"{self.model}-{model_version(self.model)}-{'+'.join(self.components) or 'tok'}"


_VERSIONS: dict[str, str] = {}


def model_version(model: str = MODEL) -> str:
    """The installed model's version, read from package metadata (no model load)."""
    if model not in _VERSIONS:
        try:
            from importlib.metadata import version

            _VERSIONS[model] = version(model.replace("_", "-"))
        except Exception:  # a model path or an unknown package: fall back to its meta.json
            meta = Path(model) / "meta.json"
            _VERSIONS[model] = json.loads(meta.read_text())["version"] if meta.exists() else "unknown"
    return _VERSIONS[model]


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
        from .errors import ProjectError

        raise ProjectError(
            f"cannot load the spaCy model '{settings.model}': {e}. Install it with: pip install ja-ginza"
        ) from None
    _NLP_CACHE[settings] = nlp
    return nlp


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
    """DocBin files under ``folder``, one per (transcript content, settings)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.spacy"

    def load(self, key: str, vocab, expected: Sequence[str]) -> list | None:
        """The cached docs, or None when missing, unreadable or not matching ``expected`` texts."""
        p = self.path(key)
        if not p.exists():
            return None
        try:
            from spacy.tokens import DocBin

            docs = list(DocBin().from_bytes(p.read_bytes()).get_docs(vocab))
        except Exception:
            return None
        if [d.text for d in docs] != list(expected):
            return None
        return docs

    def save(self, key: str, docs: Sequence) -> None:
        from spacy.tokens import DocBin

        self.folder.mkdir(parents=True, exist_ok=True)
        attrs = ["ORTH", "NORM", "LEMMA", "TAG", "POS", "MORPH", "HEAD", "DEP", "ENT_IOB", "ENT_TYPE", "SENT_START"]
        data = DocBin(attrs=attrs, store_user_data=False, docs=docs).to_bytes()
        atomic_write_bytes(self.path(key), data)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class _Vocab:
    """Lazily created vocab for reading cached docs without loading the model's weights."""

    def __init__(self):
        self._vocab = None

    def get(self):
        if self._vocab is None:
            from spacy.vocab import Vocab

            self._vocab = Vocab()
        return self._vocab


def _chunks(text: str) -> list[str]:
    """Split an over-long paragraph at sentence ends so each chunk stays under Sudachi's limit."""
    if len(text.encode("utf-8")) <= MAX_BYTES:
        return [text]
    out, cur = [], ""
    for piece in _split_keep(text):
        if cur and len((cur + piece).encode("utf-8")) > MAX_BYTES:
            out.append(cur)
            cur = ""
        while len(piece.encode("utf-8")) > MAX_BYTES:  # a single monster sentence
            cut = MAX_BYTES // 4
            out.append(piece[:cut])
            piece = piece[cut:]
        cur += piece
    if cur:
        out.append(cur)
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
    """Parse texts with ``nlp`` (over-long ones in chunks, merged back into one Doc each)."""
    from spacy.tokens import Doc

    pieces: list[str] = []
    owners: list[int] = []
    for i, t in enumerate(texts):
        for c in _chunks(t):
            pieces.append(c)
            owners.append(i)
    if jobs > 1 and len(pieces) >= 4 * jobs:
        docs = list(nlp.pipe(pieces, n_process=jobs, batch_size=max(8, len(pieces) // (jobs * 4))))
    else:
        docs = list(nlp.pipe(pieces, batch_size=64))
    grouped: list[list] = [[] for _ in texts]
    for owner, d in zip(owners, docs):
        grouped[owner].append(d)
    out = []
    for i, g in enumerate(grouped):
        if not g:
            out.append(nlp.make_doc(""))
        elif len(g) == 1:
            out.append(g[0])
        else:
            out.append(Doc.from_docs(g, ensure_whitespace=False))
    return out


@dataclass
class ParseStats:
    parsed: int = 0
    cached: int = 0
    chars_parsed: int = 0
    model_loaded: bool = False


def iter_parsed(
    transcripts: Sequence[Transcript],
    settings: NlpSettings,
    cache: DocCache,
    *,
    jobs: int = 1,
    stats: ParseStats | None = None,
    on_done: Callable[[Transcript], None] | None = None,
    batch_chars: int = 200_000,
) -> Iterator[tuple[Transcript, list]]:
    """Yield ``(transcript, paragraph docs)`` in order, parsing only what the cache lacks.

    Streams: at most about ``batch_chars`` of uncached text is held parsed at once, so memory
    stays flat however large the corpus. The model is loaded only on the first cache miss.
    """
    stats = stats if stats is not None else ParseStats()
    vocab = _Vocab()
    pending: list[tuple[Transcript, str, list[str]]] = []
    pending_chars = 0
    nlp = None

    def flush() -> Iterator[tuple[Transcript, list]]:
        nonlocal nlp, pending, pending_chars
        if not pending:
            return
        if nlp is None:
            nlp = load_nlp(settings)
            stats.model_loaded = True
        flat = [text for _, _, texts in pending for text in texts]
        docs = parse_texts(nlp, flat, jobs=jobs)
        i = 0
        for t, key, texts in pending:
            mine = docs[i : i + len(texts)]
            i += len(texts)
            cache.save(key, mine)
            stats.parsed += 1
            stats.chars_parsed += sum(len(x) for x in texts)
            yield t, mine
        pending, pending_chars = [], 0

    for t in transcripts:
        texts = paragraph_texts(t)
        key = cache_key(t, settings)
        docs = cache.load(key, nlp.vocab if nlp is not None else vocab.get(), texts)
        if docs is not None:
            # keep order: emit anything pending first
            yield from flush()
            stats.cached += 1
            yield t, docs
            continue
        pending.append((t, key, texts))
        pending_chars += sum(len(x) for x in texts)
        if pending_chars >= batch_chars:
            yield from flush()
    yield from flush()


def tokenize_phrase(text: str, settings: NlpSettings | None = None) -> list[str]:
    """Normalised forms of a phrase, with the same tokenizer the transcripts get."""
    nlp = load_nlp(NlpSettings(model=(settings or NlpSettings()).model, components=()))
    return [t.norm_ for t in nlp.make_doc(text)]
