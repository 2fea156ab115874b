"""Training the learned suggester on a project's reviewed codings (``python cli.py train``).

The model itself — features, fitting, thresholds, the JSON file — is :mod:`coding.learn`; this
module gathers a project's examples: every paragraph the tagger would tag, labelled with the
confirmed codings, plus the codebook's own words and the seed passages it names.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .errors import ProjectError
from .files import atomic_write_bytes
from .learn import TrainResult, codebook_examples, features, resolve_model, seed_examples, train
from .nlp import DocCache, iter_parsed, lexical_tokenizer
from .project import Project
from .tagger import Tagger

DEFAULT_MODEL = "models/suggester.json"


def project_examples(p: Project, *, coders: Sequence[str] | None = None, jobs: int = 1,
                     families: Sequence[str] = ("theme", "challenge", "practice")) -> list[tuple]:
    """``(transcript id, features, codes, families)`` for every paragraph the tagger would tag,
    labelled with the confirmed codings (accepted + manual) of ``coders`` (default: every
    person); ``families``: those the codings use at all."""
    cb = p.codebook
    skipper = Tagger(cb, model=None)
    codings = p.store().resolved(p.by_id, coders=coders)
    by_t: dict[str, list] = {}
    used: set[str] = set()
    for c in codings:
        code = cb.eval_code(c.code_id)
        if code is not None and cb.family(code) in families:
            by_t.setdefault(c.transcript_id, []).append((c.start, c.end, code))
            used.add(cb.family(code))
    labelled = frozenset(used)
    out = []
    for t, docs in iter_parsed(p.transcripts, p.nlp_settings(), DocCache(p.cache_dir / "nlp"), jobs=jobs):
        spans = by_t.get(t.id, [])
        for para, doc in zip(t.paragraphs, docs):
            if skipper.skipped(para):
                continue
            codes = {code for a, b, code in spans if a < para.end and b > para.start}
            out.append((t.id, features(doc), codes, labelled))
    return out


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
                  seed: bool = True, also: Sequence[Path | str] = ()) -> Trained:
    """Train the suggester on a project's reviewed codings and write it (atomically).

    ``also``: further project folders coded with the same codebook (every person's confirmed
    codings there join the examples; their transcripts stay in their own cross-validation groups).
    With ``seed``, the codebook's definitions join the examples (:func:`codebook_examples`), and
    so do the passages of the seeds file the codebook names (``tagger.learned.seeds``). The tag
    cache keys include the model's content, so the next ``code`` uses the new model.
    """
    if output is not None:
        path, note = Path(output), ""
        if resolve_model(p.codebook).path != path.resolve():
            note = f"to use this model, set tagger.learned.model to its path (relative to the codebook) in {p.codebook.path}"
    else:
        path, note = model_output(p)
    learned = p.codebook.settings.tagger.learned
    families = learned.families
    examples = project_examples(p, coders=coders, jobs=jobs, families=families)
    if not any(ex[2] for ex in examples):
        raise ProjectError(f"{p.root}: no confirmed codings to learn from (import or review some first)")
    extra = []
    for folder in also:
        q = Project.open(folder)
        unknown = sorted({c.code_id for c in q.store().resolved(q.by_id)} - set(p.codebook.codes))
        if unknown:
            raise ProjectError(f"{q.root}: codings use codes that {p.codebook.path} does not have: {', '.join(unknown[:10])}")
        got = project_examples(q, jobs=jobs, families=families)
        if not any(ex[2] for ex in got):
            raise ProjectError(f"{q.root}: no confirmed codings to learn from")
        examples += [(f"{q.root.resolve().name}:{ex[0]}", *ex[1:]) for ex in got]
        extra.append({"project": q.root.resolve().name, "transcripts": len(q.transcripts), "paragraphs": len(got)})
    if seed:
        tokenize = lexical_tokenizer(p.nlp_settings())
        examples += codebook_examples(p.codebook, tokenize)
        if learned.seeds:
            examples += seed_examples(Path(p.codebook.path).resolve().parent / learned.seeds, p.codebook, tokenize)
    info = {"project": p.root.resolve().name, "coders": list(coders or p.store().coders),
            "transcripts": len(p.transcripts), "paragraphs": len(examples)}
    if extra:
        info["also"] = extra
    res = train(examples, info=info, family_of={c: p.codebook.family(c) for c in p.codebook.codes})
    atomic_write_bytes(path, res.model.to_json().encode("utf-8"))
    return Trained(res, path, note)
