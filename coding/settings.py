"""Codebook settings (everything in ``codebook.yml`` but the codes) as checked, typed dataclasses.

Each section is a frozen dataclass; :func:`load_section` builds one from the YAML mapping and
reports every problem with its ``file:line``: an unknown key (with the nearest known one: "did you
mean skip?"), a value of the wrong type, a number out of range, a choice not offered. A misspelt
key is never silently ignored. Defaults are the dataclass defaults, so code reads
``cb.settings.tagger.skip.speakers`` and never a chain of ``.get()``.

The loader understands the types used below: ``str``, ``bool``, ``int``, ``float`` (``range``
in the field's metadata), ``Literal[...]``, ``X | None``, ``tuple[str, ...]``,
``Mapping[str, str]``, ``Mapping[str, tuple[str, ...]]``, ``Mapping[str, <dataclass>]``, nested
dataclasses and ``Any`` (kept as written).
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from .yamlfile import key_line, line_of, strip_lines

MISSING = object()


def _frozen(d: Mapping | None = None) -> Mapping:
    return dict(d or {})


# ---------------------------------------------------------------- the sections
@dataclass(frozen=True)
class Skip:
    """Paragraphs the tagger leaves alone: the interviewer's turns and the note-taker's memos are
    not the organisation's words (a codebook may override either list, e.g. with [])."""

    speakers: tuple[str, ...] = ("Q", "Ｑ", "問")
    prefixes: tuple[str, ...] = ("（メモ）", "(メモ)")


LEARNABLE = ("phase", "theme", "challenge", "practice")


@dataclass(frozen=True)
class Learned:
    """The learned suggester (:mod:`coding.learn`).

    ``model``: a model shipped with the toolkit by name (``sample``: trained on the sample
    report's reviewed codings and the development interviews) or a file path relative to the
    codebook's folder (what ``train`` writes, e.g. ``models/suggester.json``). ``seeds``: example
    passages per code for training. ``min_cv_f1``: the model decides the codes it learned at
    least this well (cross-validated F1); ``min_score``: it adds a code no rule found only when
    at least this sure; ``families``: what it learns.
    """

    model: str | None = None
    seeds: str | None = None
    min_score: float = field(default=0.0, metadata={"range": (0.0, 1.0)})
    min_cv_f1: float = field(default=0.0, metadata={"range": (0.0, 1.0)})
    families: tuple[str, ...] = field(default=("phase", "theme", "challenge", "practice"), metadata={"choices": LEARNABLE})


@dataclass(frozen=True)
class Absent:
    """A code of these kinds is not suggested where a cue says the matched thing is missing."""

    kinds: tuple[str, ...] = ()
    cues: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaggerSettings:
    skip: Skip = Skip()
    regions: Mapping[str, tuple[str, ...]] = field(default_factory=_frozen)  # kind → regions it is suggested in
    learned: Learned = Learned()
    absent: Absent = Absent()
    parse: bool = False  # run GiNZA's dependency parser even when no rule needs it
    nlp_model: str = "ja_ginza"


@dataclass(frozen=True)
class Denial:
    """Cues of sentences that deny a problem or call it solved (see :mod:`coding.tagger`)."""

    cues: tuple[str, ...] = ()
    contrast: tuple[str, ...] = ()
    past: tuple[str, ...] = ()
    solved: tuple[str, ...] = ()


@dataclass(frozen=True)
class Style:
    """An attribution-note style: ``国立大(2)、私立大`` (count, joiner), ``豪州、独国の技術移転機関``
    (merge_marker), ``国内国立大学`` (prefix per region, labels per attribute)."""

    count: str = "{label}({n})"
    joiner: str = "、"
    merge_marker: str | None = None
    prefix: Mapping[str, str] = field(default_factory=_frozen)
    labels: Mapping[str, str] = field(default_factory=_frozen)


DEFAULT_STYLE = Style(merge_marker="の")


@dataclass(frozen=True)
class Attribution:
    order: tuple[str, ...] = field(default=("summary_mention", "transcript"), metadata={"choices": ("summary_mention", "transcript")})
    countries: Mapping[str, tuple[str, ...]] = field(default_factory=_frozen)  # country → names a summary may use
    styles: Mapping[str, Style] = field(default_factory=_frozen)

    def style(self, name: str | None) -> Style:
        """The named style; the default short style when the codebook defines no such style."""
        return self.styles.get(name or "", DEFAULT_STYLE)


TABLE_TYPES = ("roster", "comparison", "challenges", "practices", "phases")


@dataclass(frozen=True)
class TableSpec:
    """One table of the study, as ``tables:`` lists them (in the order they are printed).

    ``type``: roster (who was interviewed, by region and group), comparison (themes × regions,
    each cell the findings or passages coded, with attribution notes), challenges (a kind's codes
    with quotes and the organisations that raised them), practices (challenge → practice → case
    from the codebook's links, with counts), phases (the codebook's phases × region and ×
    organisation, with the passages). ``regions``: the regions it covers (default: all);
    ``style``: the attribution style of its notes; ``themes``: the themes of a comparison table
    (default: those whose ``table`` is this id, else every theme); ``kind``: the code kind of a
    challenges table; ``order``: a roster's order (by published name, or transcript order).
    """

    type: Literal["roster", "comparison", "challenges", "practices", "phases"]
    id: str = ""
    title: str = ""
    regions: tuple[str, ...] = ()
    style: str | None = None
    themes: tuple[str, ...] = ()
    kind: str = "challenge"
    order: Literal["name", "transcript"] = "name"
    quotes: Literal["marked", "all"] = "marked"  # challenges: quotes marked as such, or every coding when none is


@dataclass(frozen=True)
class CaseSheets:
    """The 事例集 case sheets (``python cli.py cases``): ``title`` heads the collection; ``home``
    is the region whose organisations read 国内 (others 国外（country）); ``variables`` are the
    front-matter keys shown under 大学基礎情報, each with its label (e.g. staff: 産学連携機構所属数)."""

    title: str = "事例集"
    home: str | None = None
    variables: Mapping[str, str] = field(default_factory=_frozen)


@dataclass(frozen=True)
class Settings:
    version: str = "1"
    title: str = ""
    lang: Literal["ja", "en"] = "ja"  # the language of the review page and sheet (a command's --lang overrides it)
    regions: tuple[str, ...] = ("日本", "米国", "諸外国等")
    transcript_order: Literal["date", "file", "id"] = "date"
    attribution: Attribution = Attribution()
    tables: tuple[TableSpec, ...] | None = None  # None: the tables the codebook's codes call for
    tagger: TaggerSettings = TaggerSettings()
    denial: Denial = Denial()
    refs_file: str | None = None
    kinds: tuple[str, ...] = ()  # code kinds of the project's own, beside the built-in ones
    vocabulary: Any = None  # named word lists that patterns reuse with YAML aliases (*name)
    case_sheets: CaseSheets = CaseSheets()


# ---------------------------------------------------------------- loading
def nearest(key: Any, known) -> str | None:
    """The known key a misspelt one most likely meant (a transposition beats a substitution:
    'lable' → label, not table)."""
    key = str(key)
    close = difflib.get_close_matches(key, [str(k) for k in known], n=3, cutoff=0.6)
    if not close:
        return None
    return max(close, key=lambda k: (difflib.SequenceMatcher(None, key, k).ratio(), sorted(k) == sorted(key)))


def did_you_mean(key: Any, known) -> str:
    near = nearest(key, known)
    return f" (did you mean {near}?)" if near else ""


def load_section(cls: type, raw: Any, *, where: str, name: str, line: int, problems: list[str]) -> Any:
    """Build dataclass ``cls`` from ``raw`` (a mapping read by the codebook's line-recording YAML
    loader), appending every problem to ``problems`` as ``name:LINE: where.key: what``."""
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        keys = ", ".join(f.name for f in dataclasses.fields(cls))
        problems.append(f"{name}:{line}: {where or 'the codebook'} must be a mapping with the keys {keys} (got {raw!r})")
        return cls()
    line = line_of(raw, line)
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    for k in raw:
        if isinstance(k, str) and k.startswith("__"):
            continue
        if k not in known:
            hint = did_you_mean(k, known) or f" (known: {', '.join(known)})"
            problems.append(f"{name}:{key_line(raw, k, line)}: {where + ': ' if where else ''}unknown "
                            f"{'key' if where else 'top-level key'} '{k}'{hint}")
    values = {}
    required = [n for n, f in known.items() if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    for fname in required:
        if fname not in raw:
            hint = typing.get_type_hints(cls)[fname]
            choices = f" (one of {', '.join(typing.get_args(hint))})" if typing.get_origin(hint) is Literal else ""
            problems.append(f"{name}:{line}: {where}: '{fname}' is required{choices}")
            return MISSING
    for fname, f in known.items():
        if fname not in raw:
            continue
        values[fname] = _convert(raw[fname], hints[fname], f, where=f"{where}.{fname}" if where else fname, name=name,
                                 line=key_line(raw, fname, line), problems=problems)
        if values[fname] is MISSING:
            del values[fname]
    return cls(**values)


def _convert(value: Any, tp: Any, f: dataclasses.Field | None, *, where: str, name: str, line: int, problems: list[str]) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)

    def bad(msg: str, show: bool = True) -> Any:
        problems.append(f"{name}:{line}: {where} {msg}" + (f" (got {value!r})" if show else ""))
        return MISSING

    if tp is Any:
        return strip_lines(value)
    if origin is typing.Union or origin is types.UnionType:
        inner = [a for a in args if a is not type(None)]
        if value is None:
            return None
        return _convert(value, inner[0], f, where=where, name=name, line=line, problems=problems)
    if dataclasses.is_dataclass(tp):
        return load_section(tp, value, where=where, name=name, line=line_of(value, line) if isinstance(value, dict) else line,
                            problems=problems)
    if origin is Literal:
        return value if value in args else bad(f"must be one of {', '.join(map(str, args))}")
    if tp is bool:
        return value if isinstance(value, bool) else bad("must be true or false")
    if tp in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return bad("must be a number")
        lo, hi = (f.metadata.get("range") if f is not None else None) or (None, None)
        if lo is not None and not lo <= value <= hi:
            return bad(f"must be a number from {lo:g} to {hi:g}")
        return tp(value)
    if tp is str:
        if value is None or isinstance(value, (dict, list, bool)):
            return bad("must be a text")
        return str(value)
    if origin is tuple and args and dataclasses.is_dataclass(args[0]):
        if not isinstance(value, list):
            return bad("must be a list", show=False)
        items = []
        for i, item in enumerate(value):
            got = load_section(args[0], item, where=f"{where}[{i + 1}]", name=name, line=line_of(item, line), problems=problems)
            if got is not MISSING:
                items.append(got)
        return tuple(items)
    if origin is tuple:
        if not isinstance(value, list):
            return bad("must be a list")
        if any(isinstance(v, (dict, list)) or v is None for v in value):
            return bad("must be a list of words")
        out = tuple(str(v) for v in value)
        choices = f.metadata.get("choices") if f is not None else None
        if choices:
            wrong = [v for v in out if v not in choices]
            if wrong:
                return bad(f"must list some of {', '.join(choices)} (unknown: {', '.join(wrong)})", show=False)
        return out
    if origin in (Mapping, dict, typing.Mapping) or (origin is not None and getattr(origin, "__name__", "") == "Mapping"):
        if not isinstance(value, dict):
            return bad("must be a mapping")
        ktp, vtp = args
        out = {}
        for k, v in value.items():
            if isinstance(k, str) and k.startswith("__"):
                continue
            got = _convert(v, vtp, None, where=f"{where}.{k}", name=name, line=key_line(value, k, line), problems=problems)
            if got is not MISSING:
                out[str(k)] = got
        return out
    return bad("has an unsupported type")  # pragma: no cover - a field type this loader does not know


def load_settings(raw: Mapping[str, Any], *, name: str) -> tuple[Settings, list[str]]:
    """The settings of a codebook mapping (its ``codes`` are not read here) and their problems."""
    problems: list[str] = []
    top = {k: v for k, v in raw.items() if k != "codes"}
    settings = load_section(Settings, top, where="", name=name, line=line_of(raw, 1), problems=problems)
    return settings, problems


def as_data(obj: Any) -> Any:
    """A settings object as plain JSON-able data (for cache keys and reports)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: as_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): as_data(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [as_data(v) for v in obj]
    return obj
