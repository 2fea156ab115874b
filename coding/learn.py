"""The learned suggester: a calibrated logistic regression per code, reading a paragraph's words,
its meaning (word vectors) and whether the code's own rules fired in it.

Rules find what their authors foresaw; people say the same thing in many ways. This model learns
from reviewed codings (accepted + manual) and the codebook's own words which paragraphs carry a
code, and the tagger lets it decide (see :mod:`coding.tagger`): a rule suggestion of a code the
model knows stands only where the model finds the code probable enough, and the model adds the
codes it is sure of where no rule fired.

* **Words**: the Sudachi-normalised forms (``Token.norm_``: 共同出願/共願 spellings and widths
  meet) of content words and of neighbouring pairs of them, present or absent.
* **Meaning**: the mean of the words' 300-d vectors that ja_ginza ships (``vocab/vectors``,
  looked up by normalised form, no spaCy load), and its cosine to each code's *prototype* — the
  mean vector of the code's label, definition, summary and seed passages — so wording no example
  used still lands near the code it means.
* **Rules**: whether the code's own patterns matched in the window (only its own: an edit of one
  code's patterns changes what the model says of that code alone).
* **Unit**: the paragraph (an answer usually makes one point over several sentences); sentences
  are scored the same way to place a code the rules did not. Interviewer questions and memos are
  left out (``tagger.skip``), as in tagging.
* **Labels**: the codes evaluation uses (a finding counts as its theme); a code is learned from
  the projects whose coders use its family at all, and only with enough examples.
* **Fitting**: scikit-learn's ``LogisticRegression`` (L2, no class weighting, so its outputs are
  probabilities on the examples' own scale). Each code's threshold is chosen on out-of-fold
  probabilities (folds are transcripts) to maximise F1; its cross-validated precision, recall and
  F1 are kept in the model.

A suggestion's score is the model's probability that the paragraph carries the code: the review
views show the surest first, and that order means something. The model is a JSON file (weights,
vocabulary, prototypes, thresholds), written atomically; it names the vectors it was made with.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .errors import ProjectError

CONTENT_POS = {"NOUN", "PROPN", "VERB", "ADJ"}
SEED_FAMILIES = frozenset({"theme", "challenge", "practice", "phase"})  # what the codebook's and report's words label
FORMAT = "coding-suggester/2"
VECTOR_SCALE = 3.0  # the mean vector (unit length) counts this much beside binary word features


# ---------------------------------------------------------------- word vectors
def murmurhash64a(data: bytes, seed: int = 1) -> int:
    """MurmurHash64A, as spaCy hashes strings (``spacy.strings.hash_string``): the keys of
    ja_ginza's vectors, computed without importing spaCy."""
    m, r, mask = 0xC6A4A7935BD1E995, 47, (1 << 64) - 1
    n = len(data)
    h = (seed ^ (n * m)) & mask
    end = n - (n % 8)
    for i in range(0, end, 8):
        k = (int.from_bytes(data[i:i + 8], "little") * m) & mask
        k ^= k >> r
        h = ((h ^ ((k * m) & mask)) * m) & mask
    if n % 8:
        h = ((h ^ int.from_bytes(data[end:], "little")) * m) & mask
    h ^= h >> r
    h = (h * m) & mask
    return h ^ (h >> r)


class Vectors:
    """ja_ginza's word vectors (a table of rows and a key → row map), read from its package."""

    def __init__(self, folder: Path):
        import numpy as np
        import srsly

        self.folder = Path(folder)
        self.table = np.load(self.folder / "vectors", allow_pickle=False).astype("float32")
        self.key2row = srsly.read_msgpack(self.folder / "key2row")
        norms = np.linalg.norm(self.table, axis=1, keepdims=True)
        self.table = self.table / np.maximum(norms, 1e-6)
        self.dim = self.table.shape[1]
        self._rows: dict[str, int] = {}
        self.id = f"{self.folder.parent.name}/{self.table.shape[0]}x{self.dim}"

    def row(self, word: str) -> int:
        """The word's row, or -1 when ja_ginza has no vector for it."""
        r = self._rows.get(word)
        if r is None:
            r = self.key2row.get(murmurhash64a(word.encode("utf-8")), -1)
            if len(self._rows) < 500_000:
                self._rows[word] = r
        return r

    def mean(self, words: Iterable[str]):
        """The unit-length mean vector of the words that have one (zeros when none does)."""
        import numpy as np

        rows = [r for r in (self.row(w) for w in words) if r >= 0]
        if not rows:
            return np.zeros(self.dim, dtype="float32")
        # each distinct row once, weighted by its count: a paragraph of a million words needs no
        # million-row copy of the table (the direction, all that is kept, is the mean's)
        uniq, counts = np.unique(np.asarray(rows, dtype=np.int64), return_counts=True)
        v = counts.astype("float32") @ self.table[uniq]
        n = float(np.linalg.norm(v))
        return v / n if n > 0 else v


@lru_cache(maxsize=1)
def ginza_vectors() -> Vectors | None:
    """The vectors of the installed ja_ginza package (None when it has none)."""
    import importlib.util

    spec = importlib.util.find_spec("ja_ginza")
    if spec is None or not spec.submodule_search_locations:
        return None
    base = Path(list(spec.submodule_search_locations)[0])
    for vocab in sorted(base.glob("ja_ginza-*/vocab")) + [base / "vocab"]:
        if (vocab / "vectors").is_file() and (vocab / "key2row").is_file():
            return Vectors(vocab)
    return None


# ---------------------------------------------------------------- features
def content_words(tokens: Iterable) -> list[str]:
    """Normalised forms of a window's content words, in order."""
    return content_words_of([t.norm_ for t in tokens], [t.pos_ for t in tokens])


def content_words_of(norms: Sequence[str], pos: Sequence[str]) -> list[str]:
    """:func:`content_words` of tokens given as their ``norm_`` and ``pos_`` lists."""
    return [n for n, p in zip(norms, pos) if p in CONTENT_POS and n and not n.isdigit()]


def features(tokens: Iterable) -> set[str]:
    """Binary bag-of-words features of a window of tokens (``norm_`` + ``pos_``)."""
    tokens = list(tokens)
    return features_of([t.norm_ for t in tokens], [t.pos_ for t in tokens])


def features_of(norms: Sequence[str], pos: Sequence[str]) -> set[str]:
    """:func:`features` of tokens given as their ``norm_`` and ``pos_`` lists: content words and
    pairs of neighbouring ones (particles and auxiliaries between them do not break a pair)."""
    out: set[str] = set()
    prev = None
    for norm, p in zip(norms, pos):
        if p in CONTENT_POS and norm and not norm.isdigit():
            out.add(norm)
            if prev is not None:
                out.add(f"{prev}+{norm}")
            prev = norm
        elif p not in ("ADP", "AUX", "PART", "SCONJ"):
            prev = None
    return out


@dataclass(frozen=True)
class Window:
    """What the model reads of a paragraph or a sentence."""

    bow: frozenset[str]
    vec: object  # numpy array (unit length, or zeros)


def window(tokens: Sequence, vectors: Vectors | None = None) -> Window:
    """What the model reads of these tokens."""
    tokens = list(tokens)
    return window_of([t.norm_ for t in tokens], [t.pos_ for t in tokens], vectors)


def window_of(norms: Sequence[str], pos: Sequence[str], vectors: Vectors | None = None) -> Window:
    """:func:`window` of tokens given as their ``norm_`` and ``pos_`` lists (no token objects)."""
    import numpy as np

    vectors = vectors if vectors is not None else ginza_vectors()
    vec = vectors.mean(content_words_of(norms, pos)) if vectors is not None else np.zeros(300, dtype="float32")
    return Window(frozenset(features_of(norms, pos)), vec)


# ---------------------------------------------------------------- the model
@dataclass(frozen=True)
class LearnedModel:
    """One logistic regression per code over words, meaning and the code's own rules."""

    codes: tuple[str, ...]
    vocab: Mapping[str, int]
    bow: object  # (n_vocab, n_codes) float32
    dense: object  # (dim, n_codes): weights of the window's mean vector
    protos: object  # (n_protos, dim): the codes' prototype vectors
    proto_w: object  # (n_protos, n_codes): weights of the cosines to the prototypes
    rule_w: object  # (n_codes,): weight of "the code's own rules fired here"
    bias: object  # (n_codes,)
    thresholds: Mapping[str, float]
    info: Mapping[str, object] = field(default_factory=dict)

    def scores(self, w: Window, rule_hits: Iterable[str] = (), codes: Iterable[str] | None = None) -> dict[str, float]:
        """Probability of each code (or of ``codes`` only) for a window; ``rule_hits``: the codes
        whose rules fired in it."""
        return self.probabilities(self.base_logits(w), rule_hits, codes)

    def base_logits(self, w: Window) -> list[float]:
        """Each code's log-odds for a window before its rules' say, rounded to 1e-5 (what the tag
        cache keeps per paragraph, so that a re-tag after a codebook edit needs no vectors and
        gives exactly what a fresh run gives)."""
        import numpy as np

        idx = sorted(self.vocab[f] for f in w.bow if f in self.vocab)  # one order: the same sum every run
        z = self.bias.copy()
        if idx:
            z += self.bow[idx].sum(axis=0)
        v = np.asarray(w.vec, dtype="float32") * VECTOR_SCALE
        z += v @ self.dense
        z += (self.protos @ np.asarray(w.vec, dtype="float32")) @ self.proto_w
        return [round(float(x), 5) for x in z]

    def probabilities(self, base: Sequence[float], rule_hits: Iterable[str] = (),
                      codes: Iterable[str] | None = None) -> dict[str, float]:
        """:meth:`scores` from a window's :meth:`base_logits`."""
        hits = set(rule_hits)
        wanted = None if codes is None else set(codes)
        out = {}
        for k, c in enumerate(self.codes):
            if wanted is None or c in wanted:
                z = base[k] + (float(self.rule_w[k]) if c in hits else 0.0)
                out[c] = 1.0 / (1.0 + math.exp(-min(max(z, -30.0), 30.0)))
        return out

    def cv(self, code: str) -> tuple[float, float, float]:
        cv = (self.info.get("cv") or {}).get(code)
        return (float(cv[0]), float(cv[1]), float(cv[2])) if cv else (0.0, 0.0, 0.0)

    def cv_f1(self, code: str) -> float:
        """The code's cross-validated F1 at its threshold (0 when unknown)."""
        return self.cv(code)[2]

    def weight(self, code: str, feat: str) -> float:
        i = self.vocab.get(feat)
        return 0.0 if i is None else float(self.bow[i, self.codes.index(code)])

    def to_json(self) -> str:
        import numpy as np

        def r(a) -> list:
            return np.round(np.asarray(a, dtype="float64"), 4).tolist()

        words = sorted(self.vocab, key=self.vocab.get)
        sparse = {}
        for k, c in enumerate(self.codes):
            col = self.bow[:, k]
            nz = np.nonzero(np.abs(col) >= 0.01)[0]
            sparse[c] = {words[i]: round(float(col[i]), 4) for i in nz}
        data = {
            "format": FORMAT, "info": dict(self.info), "codes": list(self.codes), "thresholds": dict(self.thresholds),
            "bias": r(self.bias), "rule": r(self.rule_w), "words": sparse, "dense": r(self.dense.T),
            "protos": r(self.protos), "proto_weights": r(self.proto_w.T),
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str = "model") -> "LearnedModel":
        import numpy as np

        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                raise ValueError(f"format is {data.get('format')!r}, expected {FORMAT!r}")
            codes = tuple(data["codes"])
            vocab: dict[str, int] = {}
            for c in codes:
                for wd in data["words"][c]:
                    vocab.setdefault(wd, len(vocab))
            bow = np.zeros((len(vocab), len(codes)), dtype="float32")
            for k, c in enumerate(codes):
                for wd, x in data["words"][c].items():
                    bow[vocab[wd], k] = x
            f32 = lambda x: np.asarray(x, dtype="float32")  # noqa: E731
            dense = f32(data["dense"]).reshape(len(codes), -1).T.copy()
            protos = f32(data["protos"]).reshape(-1, dense.shape[0])
            proto_w = f32(data["proto_weights"]).reshape(len(codes), len(protos)).T.copy()
            return cls(codes, vocab, bow, dense, protos, proto_w, f32(data["rule"]), f32(data["bias"]),
                       {k: float(v) for k, v in data["thresholds"].items()}, data.get("info") or {})
        except (ValueError, KeyError, TypeError, IndexError) as e:
            raise ProjectError(f"{source}: not a suggester model ({e}); retrain it with: python cli.py train") from None

    @property
    def fingerprint(self) -> str:
        return hashlib.sha1(self.to_json().encode("utf-8")).hexdigest()[:16]


SHIPPED = Path(__file__).with_name("data") / "models"  # models shipped with the toolkit, by name


@dataclass(frozen=True)
class ModelChoice:
    """Which learned suggester a codebook gets: ``path`` (None: rules only) and, when the
    codebook names a model that cannot be used, ``warning`` saying why and what to do."""

    name: str | None
    path: Path | None
    warning: str = ""

    def load(self) -> "LearnedModel":
        return load_model(self.path)

    def describe(self) -> str:
        if self.path is None:
            return "rules only" + (f" ({self.warning})" if self.warning else "")
        return f"rules + learned suggester {self.name}"


def shipped_models() -> list[str]:
    return sorted(p.stem for p in SHIPPED.glob("*.json"))


def resolve_model(cb) -> ModelChoice:
    """The learned suggester ``tagger.learned.model`` names: a shipped model by name (no ``/``,
    no ``.json``: e.g. ``sample``), else a file relative to the codebook's folder."""
    name = cb.settings.tagger.learned.model
    if not name:
        return ModelChoice(None, None)
    where = f"{cb.path}: tagger.learned.model '{name}'"
    if "/" not in name and "\\" not in name and not name.endswith(".json"):
        path = SHIPPED / f"{name}.json"
        if path.is_file():
            return ModelChoice(name, path)
        return ModelChoice(name, None, f"{where} is not a model the toolkit ships ({', '.join(shipped_models())}): "
                                       "suggestions come from the rules alone")
    path = Path(cb.path).resolve().parent / name
    if path.is_file():
        return ModelChoice(name, path)
    return ModelChoice(name, None, f"{where}: {path.name} not found beside the codebook, so suggestions come from the rules "
                                   "alone; train one (python cli.py train) or use the shipped one (model: sample)")


@lru_cache(maxsize=4)
def _load_cached(path: str, stamp: float) -> LearnedModel:
    return LearnedModel.from_json(Path(path).read_text(encoding="utf-8"), source=path)


def load_model(path: Path | str) -> LearnedModel:
    path = Path(path)
    try:
        return _load_cached(str(path), path.stat().st_mtime)
    except FileNotFoundError:
        raise ProjectError(f"{path}: no suggester model; train one with: python cli.py train") from None


# ---------------------------------------------------------------- fitting
@dataclass(frozen=True)
class Example:
    """A paragraph (or a seed passage) to learn from."""

    group: str  # its transcript: examples of one transcript stay in one fold
    window: Window
    rule_hits: frozenset[str]  # codes whose rules fired in it
    codes: frozenset[str]  # codes it carries
    families: frozenset[str] | None = None  # families its coder codes at all (None: every family)


@dataclass(frozen=True)
class TrainResult:
    model: LearnedModel
    examples: int
    positives: Mapping[str, int]
    cv: Mapping[str, tuple[float, float, float]]  # code → (precision, recall, f1) at its threshold
    oof: Mapping[str, tuple] = field(default_factory=dict)  # code → (example indices, out-of-fold probabilities)


THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 19))


def prototypes(texts: Mapping[str, Sequence[Sequence[str]]], vectors: Vectors | None):
    """``(codes, matrix)``: per code, the unit mean vector of the content words of its texts."""
    import numpy as np

    codes = sorted(texts)
    if vectors is None or not codes:
        return codes, np.zeros((len(codes), 300), dtype="float32")
    rows = [vectors.mean(w for words in texts[c] for w in words) for c in codes]
    return codes, np.vstack(rows).astype("float32")


def _design(examples: Sequence[Example], vocab: Mapping[str, int], protos):
    """The shared part of the design matrix: words (binary), scaled mean vector, prototype cosines."""
    import numpy as np
    from scipy.sparse import csr_matrix, hstack

    rows, cols = [], []
    for r, ex in enumerate(examples):
        for f in sorted(ex.window.bow):  # one order: the same fit every run
            i = vocab.get(f)
            if i is not None:
                rows.append(r)
                cols.append(i)
    words = csr_matrix((np.ones(len(rows), dtype="float32"), (rows, cols)), shape=(len(examples), len(vocab)))
    vecs = np.vstack([np.asarray(ex.window.vec, dtype="float32") for ex in examples]) if examples else np.zeros((0, 300))
    sims = vecs @ protos.T if len(protos) else np.zeros((len(examples), 0), dtype="float32")
    return hstack([words, csr_matrix(vecs * VECTOR_SCALE), csr_matrix(sims)]).tocsr(), vecs.shape[1]


def train(
    examples: Sequence[Example],
    *,
    prototype_texts: Mapping[str, Sequence[Sequence[str]]] | None = None,
    vectors: Vectors | None = None,
    min_examples: int = 4,
    min_df: int = 2,
    C: float = 1.0,
    folds: int = 5,
    info: Mapping[str, object] | None = None,
    family_of: Mapping[str, str] | None = None,
) -> TrainResult:
    """Fit one calibrated logistic regression per code on ``examples`` (see :class:`Example`); a
    code is learned only from examples whose families include its family."""
    import numpy as np
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression

    vectors = vectors if vectors is not None else ginza_vectors()
    df: dict[str, int] = {}
    for ex in examples:
        for f in ex.window.bow:
            df[f] = df.get(f, 0) + 1
    vocab = {f: i for i, f in enumerate(sorted(f for f, n in df.items() if n >= min_df))}
    counts: dict[str, int] = {}
    for ex in examples:
        for c in ex.codes:
            counts[c] = counts.get(c, 0) + 1
    codes = tuple(sorted(c for c, n in counts.items() if n >= min_examples))
    proto_codes, protos = prototypes(prototype_texts or {}, vectors)
    X_all, dim = _design(examples, vocab, protos)
    groups = sorted({ex.group for ex in examples})
    fold_of = {g: i % folds for i, g in enumerate(groups)}
    fold_all = np.array([fold_of[ex.group] for ex in examples])
    n_vocab, n_protos = len(vocab), len(proto_codes)
    bow = np.zeros((n_vocab, len(codes)), dtype="float32")
    dense = np.zeros((dim, len(codes)), dtype="float32")
    proto_w = np.zeros((n_protos, len(codes)), dtype="float32")
    rule_w = np.zeros(len(codes), dtype="float32")
    bias = np.zeros(len(codes), dtype="float32")
    thresholds, cv, oof_all = {}, {}, {}

    def learns(ex: Example, c: str) -> bool:
        return family_of is None or ex.families is None or family_of.get(c) in ex.families

    for k, c in enumerate(codes):
        rows = np.array([i for i, ex in enumerate(examples) if learns(ex, c)], dtype=int)
        rule = csr_matrix(np.array([[1.0 if c in examples[i].rule_hits else 0.0] for i in rows], dtype="float32"))
        X = hstack([X_all[rows], rule]).tocsr()
        y = np.array([1 if c in examples[i].codes else 0 for i in rows])
        fold = fold_all[rows]
        oof = np.full(len(y), np.nan)
        for f in range(folds):
            tr, te = fold != f, fold == f
            if te.sum() == 0 or y[tr].sum() == 0 or y[tr].sum() == tr.sum():
                continue
            m = LogisticRegression(C=C, max_iter=2000, solver="lbfgs").fit(X[tr], y[tr])
            oof[te] = m.predict_proba(X[te])[:, 1]
        real = ~np.isnan(oof) & np.array([not examples[i].group.startswith(("codebook:", "seed:")) for i in rows])
        best = (-1.0, 0.5, (0.0, 0.0, 0.0))
        for th in THRESHOLDS:
            pred = (oof >= th) & real
            tp = float((pred & (y > 0)).sum())
            fp = float((pred & (y == 0)).sum())
            fn = float((~pred & (y > 0) & real).sum())
            prec = tp / (tp + fp) if tp + fp else 0.0
            rec = tp / (tp + fn) if tp + fn else 0.0
            f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
            if f1 > best[0]:
                best = (f1, th, (prec, rec, f1))
        thresholds[c], cv[c] = best[1], best[2]
        oof_all[c] = (rows[real], oof[real])
        m = LogisticRegression(C=C, max_iter=2000, solver="lbfgs").fit(X, y)
        w = m.coef_[0]
        bow[:, k] = w[:n_vocab]
        dense[:, k] = w[n_vocab:n_vocab + dim]
        proto_w[:, k] = w[n_vocab + dim:n_vocab + dim + n_protos]
        rule_w[k] = w[-1]
        bias[k] = m.intercept_[0]
    info = {**dict(info or {}), "cv": {c: [round(x, 3) for x in cv[c]] for c in codes}, "C": C,
            "vectors": vectors.id if vectors is not None else None, "prototypes": proto_codes}
    model = LearnedModel(codes, vocab, bow, dense, protos, proto_w, rule_w, bias, thresholds, info)
    return TrainResult(model, len(examples), {c: counts[c] for c in codes}, cv, oof_all)


# ---------------------------------------------------------------- seed examples
def codebook_texts(cb) -> dict[str, list[str]]:
    """Per learnable code (a finding counts as its theme): its label, definition, summary and, for
    a practice, its problem and its cases' labels — the codebook's own words for it."""
    out: dict[str, list[str]] = {}
    for c in cb.codes.values():
        code = cb.eval_code(c.id)
        if code is None or not c.codable or cb.family(code) not in SEED_FAMILIES:
            continue
        parts = [c.label, c.definition, str(c.get("summary") or ""), str(c.get("problem") or "")]
        if c.kind == "practice":
            parts += [cb[k].label for k in c.get("cases") or [] if k in cb]
        out.setdefault(code, []).append("。".join(x for x in parts if x))
    return out


def seed_texts(path: Path, cb) -> dict[str, list[str]]:
    """Passages per code from a seeds file ``{code id: [passage, ...]}`` (e.g. the report's words)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ProjectError(f"{path}: cannot read the seed examples: {e}") from None
    out: dict[str, list[str]] = {}
    for code, texts in data.items():
        target = cb.eval_code(str(code))
        if target is None:
            raise ProjectError(f"{path}: unknown code '{code}'")
        out.setdefault(target, []).extend(str(t) for t in texts or [])
    return out


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
