"""Training the learned suggester on a project's reviewed codings (``python cli.py train``).

The model itself — features, fitting, thresholds, the JSON file — is :mod:`coding.learn`; this
module gathers what it learns from: every paragraph the tagger reads (its words, its mean vector,
the codes whose rules fire in it) labelled with the confirmed codings, plus the codebook's own
words and the seed passages it names, which also make the codes' prototypes.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .errors import ProjectError
from .files import atomic_write_bytes
from .learn import SEED_FAMILIES, Example, TrainResult, Vectors, codebook_texts, content_words, ginza_vectors, resolve_model, \
    seed_texts, train, window
from .nlp import DocCache, iter_parsed, lexical_tokenizer, normaliser
from .project import Project
from .tagger import Tagger

DEFAULT_MODEL = "models/suggester.json"


def project_examples(p: Project, *, coders: Sequence[str] | None = None, jobs: int = 1,
                     families: Sequence[str] = ("phase", "theme", "challenge", "practice"),
                     vectors: Vectors | None = None) -> tuple[list[Example], list[str]]:
    """``(examples, regions)``: per paragraph the tagger reads, what the model sees of it (words,
    mean vector, the codes whose rules fire in it) and the codes its confirmed codings (of
    ``coders``, default every person) give it; ``regions``: each example's transcript region."""
    cb = p.codebook
    rules = Tagger(cb, model=None, normalise=normaliser(p.nlp_settings()))
    vectors = vectors if vectors is not None else ginza_vectors()
    codings = p.store(suggestions=False).resolved(p.by_id, coders=coders)
    by_t: dict[str, list] = defaultdict(list)
    used: set[str] = set()
    for c in codings:
        code = cb.eval_code(c.code_id)
        if code is not None and cb.family(code) in families:
            by_t[c.transcript_id].append((c.start, c.end, code))
            used.add(cb.family(code))
    labelled = frozenset(used)
    out, regions = [], []
    for t, docs in iter_parsed(p.transcripts, p.nlp_settings(), DocCache(p.cache_dir / "nlp"), jobs=jobs, as_spacy=False):
        for para, doc in zip(t.paragraphs, docs):
            if rules.skipped(para) or not len(doc):
                continue
            hits = {cb.eval_code(s.code_id) for s in rules.tag_paragraph(t.id, para, doc)} - {None}
            codes = {code for a, b, code in by_t.get(t.id, ()) if a < para.end and b > para.start}
            out.append(Example(f"{p.root.resolve().name}:{t.id}", window(list(doc), vectors), frozenset(hits),
                               frozenset(codes), labelled))
            regions.append(t.region)
    return out, regions


def seed_examples(p: Project, *, vectors: Vectors | None = None, seeds: bool = True) -> tuple[list[Example], dict[str, list]]:
    """Examples from the codebook's own words for each code (label, definition, summary …) and
    from the seeds file it names, and the content words of each code's texts (its prototype)."""
    cb = p.codebook
    vectors = vectors if vectors is not None else ginza_vectors()
    texts = codebook_texts(cb)
    if seeds and cb.settings.tagger.learned.seeds:
        for code, passages in seed_texts(Path(cb.path).resolve().parent / cb.settings.tagger.learned.seeds, cb).items():
            texts.setdefault(code, []).extend(passages)
    tokenize = lexical_tokenizer(p.nlp_settings())
    out, proto = [], {}
    for code, passages in sorted(texts.items()):
        for i, text in enumerate(passages):
            toks = list(tokenize(text))
            proto.setdefault(code, []).append(content_words(toks))
            out.append(Example(f"seed:{code}:{i}", window(toks, vectors), frozenset(), frozenset({code}), SEED_FAMILIES))
    return out, proto


@dataclass(frozen=True)
class Trained:
    result: TrainResult
    path: Path
    note: str = ""  # what the researcher must still do to use the model


def model_output(p: Project) -> tuple[Path, str]:
    """Where ``train`` writes by default: the file ``tagger.learned.model`` names, else
    models/suggester.json beside the codebook (with a note to point the codebook at it)."""
    name = p.codebook.settings.tagger.learned.model
    here = Path(p.codebook.path).resolve().parent
    if name and ("/" in name or name.endswith(".json")):
        return here / name, ""
    note = (f"the codebook uses {'the shipped model ' + repr(name) if name else 'no learned model'}; to use this one, "
            f"set tagger.learned.model: {DEFAULT_MODEL} in {p.codebook.path}")
    return here / DEFAULT_MODEL, note


def train_project(p: Project, *, coders: Sequence[str] | None = None, output: Path | None = None, jobs: int = 1,
                  seed: bool = True, also: Sequence[Path | str] = (), C: float = 1.0) -> Trained:
    """Train the suggester on a project's reviewed codings and write it (atomically).

    ``also``: further project folders coded with the same codebook (every person's confirmed
    codings there join the examples; their transcripts stay in their own cross-validation groups).
    With ``seed``, the codebook's own words and the seeds file it names join the examples. The
    tag cache keys include the model's content, so the next ``code`` uses the new model.
    """
    if output is not None:
        path, note = Path(output), ""
        if resolve_model(p.codebook).path != path.resolve():
            note = f"to use this model, set tagger.learned.model to its path (relative to the codebook) in {p.codebook.path}"
    else:
        path, note = model_output(p)
    families = p.codebook.settings.tagger.learned.families
    vectors = ginza_vectors()
    examples, _ = project_examples(p, coders=coders, jobs=jobs, families=families, vectors=vectors)
    if not any(ex.codes for ex in examples):
        raise ProjectError(f"{p.root}: no confirmed codings to learn from (import or review some first)")
    extra = []
    for folder in also:
        q = Project.open(folder)
        unknown = sorted({c.code_id for c in q.store(suggestions=False).resolved(q.by_id)} - set(p.codebook.codes))
        if unknown:
            raise ProjectError(f"{q.root}: codings use codes that {p.codebook.path} does not have: {', '.join(unknown[:10])}")
        got, _ = project_examples(q, jobs=jobs, families=families, vectors=vectors)
        if not any(ex.codes for ex in got):
            raise ProjectError(f"{q.root}: no confirmed codings to learn from")
        examples += got
        extra.append({"project": q.root.resolve().name, "transcripts": len(q.transcripts), "paragraphs": len(got)})
    seeds, proto = seed_examples(p, vectors=vectors, seeds=seed)
    if seed:
        examples += seeds
    info = {"project": p.root.resolve().name, "coders": list(coders or p.store(suggestions=False).coders),
            "transcripts": len(p.transcripts), "paragraphs": len(examples)}
    if extra:
        info["also"] = extra
    res = train(examples, prototype_texts=proto, vectors=vectors, C=C, info=info,
                family_of={c: p.codebook.family(c) for c in p.codebook.codes})
    atomic_write_bytes(path, res.model.to_json().encode("utf-8"))
    return Trained(res, path, note)
