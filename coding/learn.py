"""A learned suggester: per-code logistic regression over a paragraph's Sudachi normalised words.

Rules find what their authors foresaw; people phrase the same point in many ways. This model
learns, from reviewed codings (accepted + manual), which words make a paragraph carry a code, and
the tagger adds its suggestions to the rules' (see :mod:`coding.tagger`).

* **Features**: the normalised forms (``Token.norm_``, so 共同出願/共願 spellings and widths meet)
  of content words (nouns, proper nouns, verbs, adjectives) and of each pair of neighbouring
  content words, present or absent (binary bag of words). Japanese has no spaces, so the words
  come from GiNZA's Sudachi tokenizer — the same tokens the rules see, no extra model.
* **Unit**: the paragraph (an answer usually makes one point over several sentences). Interviewer
  questions and memo paragraphs are left out (``tagger.skip`` in the codebook), as in tagging.
* **Labels**: the codes evaluation uses — a finding counts as its theme; phases, cases and groups
  are not learned; codes with fewer than ``min_examples`` paragraphs are not learned either.
* **Model**: one-vs-rest logistic regression with L2, positives weighted up to balance the classes,
  fitted by L-BFGS (scipy, sparse features; deterministic, CPU, a few seconds for the sample
  corpus). Each code's threshold is chosen by cross-validation over transcripts to
  maximise F1 among thresholds whose recall is at least their precision.

The model is a small JSON file (vocabulary, weights, thresholds), written atomically.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .errors import ProjectError

CONTENT_POS = {"NOUN", "PROPN", "VERB", "ADJ"}
# The families learned unless the codebook says otherwise (tagger.learned.families; "phase" can
# be added). Cases: too few examples. Phases: coders' conventions differ widely (is pricing talk
# 交渉前 or 交渉中? is every answer in some phase?), so a model of one team's phases misleads another.
LEARNED_FAMILIES = ("theme", "challenge", "practice")
SEED_FAMILIES = frozenset({"theme", "challenge", "practice"})  # what the codebook's and report's words label
FORMAT = "coding-suggester/1"


def features(tokens: Iterable) -> set[str]:
    """Binary bag-of-words features of a window of tokens (``norm_`` + ``pos_``)."""
    out: set[str] = set()
    prev = None
    for t in tokens:
        pos = t.pos_
        norm = t.norm_
        if pos in CONTENT_POS and norm and not norm.isdigit() and len(norm) > 0:
            out.add(norm)
            if prev is not None:
                out.add(f"{prev}+{norm}")
            prev = norm
        elif pos not in ("ADP", "AUX", "PART", "SCONJ"):
            prev = None
    return out


@dataclass(frozen=True)
class LearnedModel:
    """Weights of one logistic regression per code over a shared vocabulary."""

    codes: tuple[str, ...]
    vocab: Mapping[str, int]
    weights: tuple[tuple[float, ...], ...]  # per code, per feature
    bias: tuple[float, ...]
    thresholds: Mapping[str, float]
    info: Mapping[str, object] = field(default_factory=dict)

    def scores(self, feats: set[str], codes: Sequence[str] | None = None) -> dict[str, float]:
        """Probability of each code (or of ``codes`` only) for a window with these features."""
        idx = [self.vocab[f] for f in feats if f in self.vocab]
        out = {}
        for k, code in enumerate(self.codes):
            if codes is not None and code not in codes:
                continue
            w = self.weights[k]
            z = self.bias[k] + sum(w[i] for i in idx)
            out[code] = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
        return out

    def cv_f1(self, code: str) -> float:
        """The code's cross-validated F1 at its threshold (0 when unknown)."""
        cv = (self.info.get("cv") or {}).get(code)
        return float(cv[2]) if cv else 0.0

    def weight(self, code: str, feat: str) -> float:
        i = self.vocab.get(feat)
        return 0.0 if i is None else self.weights[self.codes.index(code)][i]

    def to_json(self) -> str:
        data = {
            "format": FORMAT, "info": dict(self.info), "codes": list(self.codes),
            "thresholds": dict(self.thresholds), "bias": [round(b, 3) for b in self.bias],
            "vocab": sorted(self.vocab, key=self.vocab.get),
            # sparse: only weights that matter, per code
            "weights": [{str(i): round(x, 3) for i, x in enumerate(w) if abs(x) >= 0.02} for w in self.weights],
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str = "model") -> "LearnedModel":
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                raise ValueError(f"format is {data.get('format')!r}, expected {FORMAT!r}")
            vocab = {f: i for i, f in enumerate(data["vocab"])}
            n = len(vocab)
            weights = []
            for w in data["weights"]:
                row = [0.0] * n
                for i, x in w.items():
                    row[int(i)] = float(x)
                weights.append(tuple(row))
            return cls(tuple(data["codes"]), vocab, tuple(weights), tuple(float(b) for b in data["bias"]),
                       {k: float(v) for k, v in data["thresholds"].items()}, data.get("info") or {})
        except (ValueError, KeyError, TypeError, IndexError) as e:
            raise ProjectError(f"{source}: not a suggester model ({e}); retrain it with: python cli.py train") from None

    @property
    def fingerprint(self) -> str:
        import hashlib

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


def load_model(path: Path | str) -> LearnedModel:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectError(f"{path}: no suggester model; train one with: python cli.py train") from None
    return LearnedModel.from_json(text, source=str(path))


# ---------------------------------------------------------------- fitting
def _fit(X, y, *, l2: float, pos_weight: float):
    """Weighted L2 logistic regression: minimise Σ wᵢ·logloss + l2/2·|w|² by L-BFGS (scipy)."""
    import numpy as np
    from scipy.optimize import minimize

    n, d = X.shape
    sw = np.where(y > 0, pos_weight, 1.0)

    def loss(theta):
        w, b = theta[:-1], theta[-1]
        z = X @ w + b
        # log(1 + e^z) - y z, stably
        ll = np.logaddexp(0.0, z) - y * z
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
        g = sw * (p - y)
        grad = np.empty_like(theta)
        grad[:-1] = X.T @ g + l2 * w
        grad[-1] = g.sum()
        return float((sw * ll).sum() + 0.5 * l2 * (w @ w)), grad

    res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 200})
    return res.x[:-1], float(res.x[-1])


def _matrix(examples: Sequence[set[str]], vocab: Mapping[str, int]):
    from scipy.sparse import csr_matrix

    rows, cols = [], []
    for r, feats in enumerate(examples):
        for f in feats:
            i = vocab.get(f)
            if i is not None:
                rows.append(r)
                cols.append(i)
    return csr_matrix(([1.0] * len(rows), (rows, cols)), shape=(len(examples), len(vocab)))


@dataclass(frozen=True)
class TrainResult:
    model: LearnedModel
    examples: int
    positives: Mapping[str, int]
    cv: Mapping[str, tuple[float, float, float]]  # code → (precision, recall, f1) at its threshold


THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def train(
    examples: Sequence[tuple],
    *,
    min_examples: int = 3,
    min_df: int = 2,
    l2: float = 1.0,
    folds: int = 5,
    info: Mapping[str, object] | None = None,
    family_of: Mapping[str, str] | None = None,
) -> TrainResult:
    """Fit one classifier per code from ``(group, features, codes[, families])`` examples (group =
    transcript, kept together in cross-validation folds). ``families``, when given with
    ``family_of`` (code → family), are the families the example's coder codes at all: a code is
    learned only from examples that label its family (a team that codes no phases says nothing
    about where phases are not)."""
    import numpy as np

    def labels(ex, c) -> bool:
        fams = ex[3] if len(ex) > 3 else None
        return family_of is None or fams is None or family_of.get(c) in fams

    df: dict[str, int] = {}
    for ex in examples:
        for f in ex[1]:
            df[f] = df.get(f, 0) + 1
    vocab = {f: i for i, f in enumerate(sorted(f for f, c in df.items() if c >= min_df))}
    counts: dict[str, int] = {}
    for ex in examples:
        for c in ex[2]:
            counts[c] = counts.get(c, 0) + 1
    codes = tuple(sorted(c for c, n in counts.items() if n >= min_examples))
    X_all = _matrix([ex[1] for ex in examples], vocab)
    groups = sorted({ex[0] for ex in examples})
    fold_of = {g: i % folds for i, g in enumerate(groups)}
    fold_all = np.array([fold_of[ex[0]] for ex in examples])
    weights, biases, thresholds, cv = [], [], {}, {}
    for c in codes:
        rows = np.array([i for i, ex in enumerate(examples) if labels(ex, c)], dtype=int)
        X, fold = X_all[rows], fold_all[rows]
        y = np.array([1.0 if c in examples[i][2] else 0.0 for i in rows])
        pos_weight = min(20.0, max(1.0, (len(y) - y.sum()) / max(1.0, y.sum())))
        # cross-validated probabilities → threshold
        oof = np.zeros(len(y))
        for k in range(folds):
            tr, te = fold != k, fold == k
            if te.sum() == 0 or y[tr].sum() == 0:
                continue
            w, b = _fit(X[tr], y[tr], l2=l2, pos_weight=pos_weight)
            oof[te] = 1.0 / (1.0 + np.exp(-np.clip(X[te] @ w + b, -30, 30)))
        best = (-1.0, 0.5, (0.0, 0.0, 0.0))
        for th in THRESHOLDS:
            pred = oof >= th
            tp = float((pred & (y > 0)).sum())
            fp = float((pred & (y == 0)).sum())
            fn = float((~pred & (y > 0)).sum())
            prec = tp / (tp + fp) if tp + fp else 0.0
            rec = tp / (tp + fn) if tp + fn else 0.0
            f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
            key = f1 if rec >= prec else f1 - 0.5  # prefer thresholds that miss little
            if key > best[0]:
                best = (key, th, (prec, rec, f1))
        thresholds[c] = best[1]
        cv[c] = best[2]
        w, b = _fit(X, y, l2=l2, pos_weight=pos_weight)
        weights.append(tuple(float(x) for x in w))
        biases.append(float(b))
    info = {**dict(info or {}), "cv": {c: [round(x, 3) for x in cv[c]] for c in codes}}
    model = LearnedModel(codes, vocab, tuple(weights), tuple(biases), thresholds, info)
    return TrainResult(model, len(examples), {c: counts[c] for c in codes}, cv)


# ---------------------------------------------------------------- seed examples
def codebook_examples(cb, tokenize) -> list[tuple]:
    """Seed examples from the codebook's own words: per code, its label, definition and summary
    (a practice also its problem and its cases' labels; a theme its findings' labels and
    summaries). They carry the report's vocabulary, which a few dozen reviewed paragraphs lack.
    ``tokenize(text)`` gives tokens with ``norm_`` and ``pos_``."""
    out = []
    for c in cb.codes.values():
        code = cb.eval_code(c.id)
        if code is None or c.kind not in ("theme", "finding", "challenge", "practice") or not c.codable:
            continue
        parts = [c.label, c.definition, str(c.get("summary") or ""), str(c.get("problem") or "")]
        if c.kind == "practice":
            parts += [cb[k].label for k in c.get("cases") or [] if k in cb]
        text = "。".join(x for x in parts if x)
        out.append((f"codebook:{c.id}", features(tokenize(text)), {code}, SEED_FAMILIES))
    return out


def seed_examples(path: Path, cb, tokenize) -> list[tuple]:
    """Examples from a seeds file ``{code id: [passage, ...]}`` (e.g. the report's own words)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ProjectError(f"{path}: cannot read the seed examples: {e}") from None
    out = []
    for code, texts in data.items():
        target = cb.eval_code(str(code))
        if target is None:
            raise ProjectError(f"{path}: unknown code '{code}'")
        for i, text in enumerate(texts or []):
            out.append((f"seed:{code}:{i}", features(tokenize(str(text))), {target}, SEED_FAMILIES))
    return out
