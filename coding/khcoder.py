"""KH Coder exchange: the codebook's patterns as a KH Coder coding-rule file, the notes as a KH
Coder corpus with headings and a variables CSV; a rule file read back into codebook codes; and a
check of a rule file against the grammar KH Coder's own reader applies.

**The rule file** (KH Coder's コーディングルール; its reader is ``kh_cod.pm`` and
``kh_cod/a_code.pm``): lines starting with ``#`` and empty lines are skipped; a line starting
with ``＊`` (or ``*``) names a code; the lines after it, joined with spaces, are its condition.
The condition is split at spaces (a full-width space counts as one; ``'…'`` keeps its spaces,
``''`` inside it is a quote) into atoms and operators, each atom classified in this order:
``<>見出しN-->…`` (heading), ``<>var-->value`` and ``<>var<>`` (variables), ``lw``/``lc``,
``No.``, ``'string'``, ``word->POS``, ``<＊code>``, ``near(a-b)[opt]``, ``seq(a-b)[opt]``,
``a+b`` (a phrase of words), an operator (``and or not & | ! &! |! ( ) > >= < <= == + - * /`` or
a number), else a word. The operators become SQL (``&`` and, ``|`` or, ``!`` not, ``&!`` and
not, ``|!`` or not), so precedence is SQL's: not, then and, then or. A code defined twice stops
KH Coder ("redefined").

**Writing** (:func:`rules_text`): a code's patterns are alternatives, one per line (``| …``);
a phrase becomes a ``'string'`` (KH Coder finds it in a sentence's text, as this toolkit finds a
phrase in the surface text), ``any`` ``|``, ``all`` ``&``, ``none`` ``&!``. What cannot be said
in KH Coder is listed at the top of the file and returned: token patterns (left out), ``scope:
paragraph`` (KH Coder codes every rule at one unit: choose 段落 to keep such rules wide), ``near``
(written as ``&``: both mean "in the same sentence" when KH Coder codes sentences), the
surface-only ``=`` (KH Coder's strings are always the surface: the phrase comes back without it),
``%`` and ``_`` in a phrase (wildcards of KH Coder's SQL ``LIKE``), denial and the other tagger
settings, scores and the learned suggester. This toolkit also finds a phrase in Sudachi's
normalised forms (ロイヤリティ/ロイヤルティ); KH Coder's strings do not. A ``# code:`` comment keeps
each code's kind, label, parent, definition, pattern ids and scores for the way back.

**Reading** (:func:`import_rules`): every ＊code becomes a code whose patterns are the
condition's top-level alternatives; a string or a word becomes a phrase, ``near``/``seq`` a
``near`` (distance and order are not kept), ``a+b`` the phrase ``ab``, ``<＊code>`` the rule of
that code (defined above it). Headings, variables, POS, counts and comparisons have no
counterpart in a codebook: each is an error naming the file and the line, and nothing is
imported unless ``skip`` leaves those codes out.

**The corpus** (:func:`corpus_text`): ``<H1>transcript id</H1>`` per interview, then one line
per paragraph of the organisation's words (KH Coder's 段落), speaker tags dropped; the variables
CSV has one row per H1 in the same order (KH Coder's 外部変数の読み込み). Corpus and variables carry
the notes as they are: working data for the team, like a REFI-QDA project, not for publication.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import yaml

from .codebook import KINDS, Codebook
from .errors import CodingError, OptionError
from .files import atomic_write_bytes
from .project import Project
from .rules import SURFACE, Rule, compile_rule
from .tagger import Tagger
from .transcripts import Transcript

ENCODINGS = ("utf-8-sig", "cp932")
RULES_FILE, CORPUS_FILE, VARIABLES_FILE = "codes.cod", "corpus.txt", "variables.csv"
RESERVED_VARIABLES = re.compile(r"^(?:見出し[1-5]|heading[1-5])$", re.I)


class KhCoderError(CodingError):
    """A KH Coder file cannot be read, or does not follow KH Coder's grammar; every problem located."""


# ---------------------------------------------------------------- writing rules
@dataclass(frozen=True)
class Unexpressed:
    """A part of the codebook the rule file cannot say: ``kept`` False when left out, True when
    written approximately."""

    code_id: str
    pattern_id: str
    what: str
    kept: bool

    def __str__(self) -> str:
        where = f"{self.code_id}#{self.pattern_id}" if self.pattern_id else self.code_id
        return f"{where}: {self.what}" + ("" if self.kept else " (left out)")


@dataclass(frozen=True)
class RuleFile:
    text: str
    codes: int
    patterns: int
    unexpressed: tuple[Unexpressed, ...] = ()


def summary_lines(unexpressed: Sequence[Unexpressed]) -> list[str]:
    """The list of what cannot be said, one line per kind of loss with the patterns it touches."""
    where: dict[tuple[str, bool], list[str]] = {}
    for u in unexpressed:
        where.setdefault((u.what, u.kept), []).append(f"{u.code_id}#{u.pattern_id}" if u.pattern_id else u.code_id)
    return [f"{what}{'' if kept else ' (left out)'}: {', '.join(dict.fromkeys(ids))}" for (what, kept), ids in where.items()]


class _Unsayable(Exception):
    pass


def quote(phrase: str) -> str:
    """A KH Coder string atom: ``'…'`` with ``'`` doubled."""
    return "'" + phrase.replace("'", "''") + "'"


def rule_expression(rule: Rule, notes: list[str]) -> str:
    """The KH Coder condition of one rule; approximations are added to ``notes``; a part KH
    Coder cannot say at all raises :class:`_Unsayable`."""
    if rule.tokens is not None:
        raise _Unsayable("token pattern (spaCy Matcher): KH Coder has no counterpart")
    if rule.scope == "paragraph":
        _note(notes, "scope: paragraph: written at KH Coder's coding unit (code at 段落 to keep it as wide)")
    parts = []
    if rule.phrase is not None:
        text = rule.phrase
        if text.startswith(SURFACE):
            text = text[len(SURFACE):]
            _note(notes, f"'={text}' (surface only): KH Coder's strings are always the surface; it comes back as '{text}'")
        if "%" in text or "_" in text:
            _note(notes, f"'{text}': % and _ are wildcards in KH Coder's strings")
        parts.append(quote(text))
    if rule.any:
        subs = [rule_expression(r, notes) for r in rule.any]
        parts.append(subs[0] if len(subs) == 1 else "( " + " | ".join(subs) + " )")
    for r in rule.all:
        parts.append(rule_expression(r, notes))
    if rule.near:
        _note(notes, "near: written as & (every part in the same sentence when KH Coder codes sentences); comes back as all")
        parts.extend(rule_expression(r, notes) for r in rule.near)
    negs = [rule_expression(r, notes) for r in rule.none]
    if not parts:
        raise _Unsayable("a rule that only excludes (none) never suggests a code")
    out = " & ".join(parts) + "".join(f" &! {n}" for n in negs)
    return out if len(parts) == 1 and not negs else f"( {out} )"


def _note(notes: list[str], text: str) -> None:
    if text not in notes:
        notes.append(text)


CODE_NOTES = {
    "deny": "denial (a sentence that denies the problem or calls it solved) is not applied",
    "regions": "suggested only in transcripts of {regions} (tagger.regions): KH Coder codes every document",
    "absent": "tagger.absent (not where a cue says the thing is missing) is not applied",
}


def rules_text(cb: Codebook, *, source: str = "codebook.yml") -> RuleFile:
    """The codebook's codes with patterns as a KH Coder rule file (see the module docstring)."""
    settings = cb.settings.tagger
    blocks, unexpressed = [], []
    n_codes = n_patterns = 0
    for code in cb.codes.values():
        if not code.patterns or not code.codable:
            continue
        lines, kept = [], []
        for pat in code.patterns:
            notes: list[str] = []
            try:
                expr = rule_expression(pat.rule, notes)
            except _Unsayable as e:
                unexpressed.append(Unexpressed(code.id, pat.id, str(e), False))
                continue
            unexpressed.extend(Unexpressed(code.id, pat.id, n, True) for n in notes)
            lines.append(("| " if lines else "") + expr)
            kept.append(pat)
        if code.deny and cb.settings.denial.cues:
            unexpressed.append(Unexpressed(code.id, "", CODE_NOTES["deny"], True))
        if code.kind in settings.regions:
            unexpressed.append(Unexpressed(code.id, "", CODE_NOTES["regions"].format(regions=", ".join(settings.regions[code.kind])), True))
        if code.kind in settings.absent.kinds and settings.absent.cues:
            unexpressed.append(Unexpressed(code.id, "", CODE_NOTES["absent"], True))
        if not lines:
            continue
        meta = {"kind": code.kind, "label": code.label, "parent": code.parent, "ref": code.ref,
                "definition": code.definition, "patterns": [p.id for p in kept], "scores": [p.score for p in kept]}
        blocks.append(f"＊{code.id}\n# code: {json.dumps(meta, ensure_ascii=False)}\n" + "\n".join(lines) + "\n")
        n_codes += 1
        n_patterns += len(kept)
    head = [f"# KH Coder coding rules written from {source} (python cli.py export khcoder).",
            "# Strings ('…') are found in a sentence's text as written; the toolkit also finds a phrase in",
            "# Sudachi's normalised forms (ロイヤリティ/ロイヤルティ), which KH Coder's strings do not.",
            "# Learned-suggester suggestions and pattern scores have no counterpart here."]
    if unexpressed:
        head.append("# Not expressible in KH Coder (left out, or written approximately):")
        head += [f"#   {line}" for line in summary_lines(unexpressed)]
    return RuleFile("\n".join(head) + "\n\n" + "\n".join(blocks), n_codes, n_patterns, tuple(unexpressed))


# ---------------------------------------------------------------- corpus and variables
def _body_line(text: str) -> str:
    # KH Coder reads <H1>…</H1> as headings: a bracket in the notes must not open one
    return text.replace("\n", "").replace("<", "＜").replace(">", "＞")


def corpus_text(transcripts: Sequence[Transcript], *, skip=None) -> str:
    """``<H1>id</H1>`` and one line per paragraph (speaker tags dropped) for each transcript;
    ``skip(paragraph)``: paragraphs left out (the interviewer's turns and memos)."""
    out = []
    for t in transcripts:
        out.append(f"<H1>{_body_line(t.id)}</H1>")
        out += [_body_line(p.text) for p in t.paragraphs if p.text.strip() and not (skip is not None and skip(p))]
        out.append("")
    return "\n".join(out)


def variables_csv(transcripts: Sequence[Transcript]) -> str:
    """One row per transcript (per H1, in the corpus's order), one column per front-matter key."""
    keys = list(dict.fromkeys(k for t in transcripts for k in t.attributes))
    names = [f"{k}_var" if RESERVED_VARIABLES.match(k) else k for k in keys]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(names)
    for t in transcripts:
        w.writerow([str(t.attributes.get(k, "")) for k in keys])
    return buf.getvalue()


def encode(text: str, encoding: str, name: str) -> bytes:
    """``text`` in a KH Coder encoding; a character CP932 lacks is an error naming file and line."""
    if encoding not in ENCODINGS:
        raise OptionError(f"--encoding {encoding}: choose {' or '.join(ENCODINGS)}")
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        bad = []
        for i, line in enumerate(text.split("\n"), 1):
            for ch in line:
                try:
                    ch.encode(encoding)
                except UnicodeEncodeError:
                    bad.append(f"{name}:{i}: '{ch}' (U+{ord(ch):04X}) has no {encoding} code")
                    break
        raise KhCoderError(f"{name}: {len(bad)} line(s) cannot be written in {encoding}; use --encoding utf-8-sig", bad) from None


@dataclass(frozen=True)
class ExportResult:
    files: tuple[Path, ...]
    rules: RuleFile
    documents: int
    variables: int


def export_khcoder(p: Project, folder: Path | str, *, encoding: str = "utf-8-sig", interviewer: bool = False) -> ExportResult:
    """Write ``codes.cod``, ``corpus.txt`` and ``variables.csv`` for KH Coder into ``folder``
    (every file checked before any is written)."""
    folder = Path(folder)
    rules = rules_text(p.codebook, source=p.codebook.path.name)
    problems = check_rules(rules.text, RULES_FILE)
    if problems:  # the writer and the check disagree: a bug, never the user's
        raise KhCoderError(f"{RULES_FILE}: the written rules fail KH Coder's grammar", problems)
    skip = None if interviewer else Tagger(p.codebook, model=None).skipped
    data = {RULES_FILE: encode(rules.text.replace("\n", "\r\n"), encoding, RULES_FILE),
            CORPUS_FILE: encode(corpus_text(p.transcripts, skip=skip).replace("\n", "\r\n"), encoding, CORPUS_FILE),
            VARIABLES_FILE: encode(variables_csv(p.transcripts), encoding, VARIABLES_FILE)}
    files = []
    for name, blob in data.items():
        atomic_write_bytes(folder / name, blob)
        files.append(folder / name)
    n_vars = len({k for t in p.transcripts for k in t.attributes})
    return ExportResult(tuple(files), rules, len(p.transcripts), n_vars)


# ---------------------------------------------------------------- KH Coder's grammar
ATOMS = [  # (kind, pattern) in the order KH Coder's atom.pm tries them, case-insensitive
    ("heading", r"^<>見出し[1-5]\-\->.+|^\"<>見出し[1-5]\-\->.+\"$|^<>heading[1-5]\-\->.+|^\"<>heading[1-5]\-\->.+\"$"),
    ("outvar", r"^<>.+\-\->.+|^\"<>.+\-\->.+\"$"),
    ("outvar", r"^<>.+<>|^\"<>.+<>\"$"),
    ("length", r"^lw$|^lc$"),
    ("number", r"^No\.$"),
    ("string", r"^'.+'$"),
    ("hinshi", r".+\->.+|.+=>.+"),
    ("code", r"^<.+>$"),
    ("near", r"near\(.+\-.+\)"),
    ("seq", r"seq\(.+\-.+\)"),
    ("phrase", r".+\+.+"),
    ("op", r"^and$|^or$|^not$|^\($|^\)$|^\&$|^\|$|^\!$|^\&\!$|^\|\!$|^\>$|^\>=$|^\<$|^\<=$|^==$|^\+$|^\-$|^\*$|^\/$|^\d+$"),
    ("word", r".*"),
]
_ATOMS = [(k, re.compile(p, re.I)) for k, p in ATOMS]
# KH Coder's split (a_code.pm): a quoted string only where a space follows its closing quote
TOKEN = re.compile(r"('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|[^ ]*) ")
STRING = re.compile(r"^'(?:[^']|'')+'$")


@dataclass(frozen=True)
class Tok:
    kind: str  # an atom kind, or op
    text: str
    line: int


def classify(text: str) -> str:
    return next(k for k, rx in _ATOMS if rx.search(text))


def tokens(line: str, lineno: int, problems: list[str], where: str) -> list[Tok]:
    """The atoms and operators of one condition line, as KH Coder splits them."""
    line = line.replace("　", " ").replace("\t", " ")
    out = []
    for raw in TOKEN.findall(line + " "):
        if not raw:
            continue
        if raw.startswith("'") and not STRING.match(raw):
            problems.append(f"{where}:{lineno}: string {raw} is not closed on this line (write '' for a quote inside it)")
            continue
        kind = classify(raw)
        if kind == "word" and ("(" in raw or ")" in raw or "'" in raw):
            problems.append(f"{where}:{lineno}: '{raw}' is read as one word: put spaces around ( ) and quotes")
        out.append(Tok(kind, raw, lineno))
    return out


@dataclass
class Node:
    """A parsed condition: op is atom, or, and, not, group (parentheses), cmp (a comparison)."""

    op: str
    children: list["Node"] = field(default_factory=list)
    tok: Tok | None = None


BINARY = {"and": "and", "&": "and", "&!": "and", "or": "or", "|": "or", "|!": "or"}
NOTS = {"not", "!"}
COMPARE = {">", ">=", "<", "<=", "=="}
ARITH = {"+", "-", "*", "/"}


class _Parser:
    """Recursive descent over KH Coder's operators with SQL's precedence (not > and > or)."""

    def __init__(self, toks: list[Tok], where: str, problems: list[str]):
        self.toks, self.i, self.where, self.problems = toks, 0, where, problems

    def peek(self) -> Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def fail(self, tok: Tok | None, msg: str) -> None:
        line = tok.line if tok is not None else (self.toks[-1].line if self.toks else 0)
        raise SyntaxError(f"{self.where}:{line}: {msg}")

    def parse(self) -> Node:
        node = self.orexpr()
        if self.peek() is not None:
            self.fail(self.peek(), f"unexpected '{self.peek().text}' (a missing operator, or a ')' too many)")
        return node

    def _binary(self, op: str, sub) -> Node:
        items = [sub()]
        while (t := self.peek()) is not None and t.kind == "op" and BINARY.get(t.text.lower()) == op:
            self.i += 1
            right = sub()
            items.append(Node("not", [right]) if t.text.endswith("!") else right)
        return items[0] if len(items) == 1 else Node(op, items)

    def orexpr(self) -> Node:
        return self._binary("or", self.andexpr)

    def andexpr(self) -> Node:
        return self._binary("and", self.notexpr)

    def notexpr(self) -> Node:
        t = self.peek()
        if t is not None and t.kind == "op" and t.text.lower() in NOTS:
            self.i += 1
            return Node("not", [self.notexpr()])
        return self.compare()

    def compare(self) -> Node:
        left = self.arith()
        t = self.peek()
        if t is not None and t.kind == "op" and t.text in COMPARE:
            self.i += 1
            return Node("cmp", [left, self.arith()], t)
        return left

    def arith(self) -> Node:
        left = self.primary()
        while (t := self.peek()) is not None and t.kind == "op" and t.text in ARITH:
            self.i += 1
            left = Node("cmp", [left, self.primary()], t)
        return left

    def primary(self) -> Node:
        t = self.peek()
        if t is None:
            self.fail(None, "the condition ends where an atom or '(' is needed")
        if t.kind == "op":
            if t.text == "(":
                self.i += 1
                inner = self.orexpr()
                if self.peek() is None or self.peek().text != ")":
                    self.fail(self.peek() or t, "'(' is not closed")
                self.i += 1
                return Node("group", [inner], t)
            if t.text.isdigit():
                self.i += 1
                return Node("atom", tok=Tok("number", t.text, t.line))
            self.fail(t, f"'{t.text}' where an atom or '(' is needed")
        self.i += 1
        return Node("atom", tok=t)


@dataclass(frozen=True)
class RuleCode:
    """A ＊code of a rule file: its name, line, comment metadata and parsed condition."""

    name: str
    line: int
    condition: Node
    meta: dict = field(default_factory=dict)


def read_rules(text: str, name: str) -> tuple[list[RuleCode], list[str]]:
    """The codes of a rule file and every problem KH Coder's reader would stop at or misread
    (duplicate codes, conditions outside a code, empty or malformed conditions), located."""
    problems: list[str] = []
    blocks: list[tuple[str, int, list[tuple[int, str]], dict]] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        if i == 1:
            raw = raw.lstrip("\ufeff")
        if raw.startswith("#"):
            if raw.startswith("# code: ") and blocks:
                try:
                    blocks[-1][3].update(json.loads(raw[len("# code: "):]))
                except ValueError:
                    problems.append(f"{name}:{i}: the '# code:' comment is not valid JSON (KH Coder ignores it)")
            continue
        if not raw:
            continue
        if raw.startswith(("＊", "*")):
            code = raw[1:].strip()
            if not code:
                problems.append(f"{name}:{i}: a code line needs a name after ＊")
                continue
            if code in seen:
                problems.append(f"{name}:{i}: ＊{code} is defined twice (first at line {seen[code]}); KH Coder stops: redefined")
            seen.setdefault(code, i)
            blocks.append((code, i, [], {}))
        elif not blocks:
            problems.append(f"{name}:{i}: a condition before any ＊code line")
        else:
            blocks[-1][2].append((i, raw))
    codes = []
    for code, line, cond, meta in blocks:
        toks: list[Tok] = []
        for i, raw in cond:
            toks += tokens(raw, i, problems, name)
        if not toks:
            problems.append(f"{name}:{line}: ＊{code} has no condition")
            continue
        try:
            codes.append(RuleCode(code, line, _Parser(toks, name, problems).parse(), meta))
        except SyntaxError as e:
            problems.append(f"{e} (＊{code})")
    return codes, problems


def check_rules(text: str, name: str = RULES_FILE) -> list[str]:
    """Problems of a rule file under KH Coder's grammar (empty when KH Coder reads it as meant)."""
    return read_rules(text, name)[1]


# ---------------------------------------------------------------- reading rules into codes
@dataclass(frozen=True)
class ImportedCode:
    id: str
    kind: str
    label: str
    parent: str | None
    ref: str | None
    definition: str
    patterns: tuple[dict, ...]


@dataclass(frozen=True)
class ImportResult:
    codes: tuple[ImportedCode, ...]
    yaml: str
    notes: tuple[str, ...] = ()  # approximations (a word read as a phrase, near's distance …)
    skipped: tuple[str, ...] = ()  # codes left out (skip), with why
    clashes: tuple[str, ...] = ()  # ids the codebook already has


def _phrase(tok: Tok) -> str:
    text = tok.text
    if tok.kind == "string":
        return text[1:-1].replace("''", "'")
    return text


class _Convert:
    def __init__(self, name: str, known: dict[str, Node]):
        self.name, self.known = name, known
        self.problems: list[str] = []
        self.notes: list[str] = []

    def _note(self, tok: Tok, msg: str) -> None:
        text = f"{self.name}:{tok.line}: {msg}"
        if text not in self.notes:
            self.notes.append(text)

    def rule(self, node: Node) -> Any:
        if node.op == "group":
            return self.rule(node.children[0])
        if node.op == "atom":
            return self.atom(node.tok)
        if node.op == "cmp":
            t = node.tok
            self.problems.append(f"{self.name}:{t.line}: '{t.text}': counts and comparisons have no counterpart in a codebook")
            return None
        if node.op == "or":
            return {"any": [self.rule(c) for c in _flatten(node)]}
        if node.op == "and":
            parts = _flatten(node)
            pos = [c for c in parts if c.op != "not"]
            neg = [self.rule(c.children[0]) for c in parts if c.op == "not"]
            if not pos:
                self._fail(node, "a condition of only 'not' parts never codes anything here")
                return None
            out: dict[str, Any] = {}
            single = pos[0].children[0] if len(pos) == 1 and pos[0].op == "group" else (pos[0] if len(pos) == 1 else None)
            if single is not None and single.op == "or":
                out["any"] = [self.rule(c) for c in single.children]
            else:
                out["all"] = [self.rule(c) for c in pos]
            if neg:
                out["none"] = neg
            return out
        if node.op == "not":
            self._fail(node, "'not' only inside an '&' here (a rule that only excludes never suggests a code)")
            return None
        raise AssertionError(node.op)  # pragma: no cover

    def _fail(self, node: Node, msg: str) -> None:
        tok = node.tok or _first_tok(node)
        self.problems.append(f"{self.name}:{tok.line if tok else 0}: {msg}")

    def atom(self, tok: Tok) -> Any:
        k = tok.kind
        if k == "string":
            return _phrase(tok)
        if k == "word":
            self._note(tok, f"word {tok.text} (KH Coder: the extracted word) is imported as a phrase (found inside longer words too)")
            return tok.text
        if k in ("near", "seq"):
            m = re.match(r"^(?:near|seq)\((.+)\)(?:\[(.+)\])?$", tok.text, re.I)
            if m is None:
                self.problems.append(f"{self.name}:{tok.line}: cannot read {tok.text}")
                return None
            self._note(tok, f"{tok.text}: imported as near (same sentence); "
                       + ("the order of seq and " if k == "seq" else "") + "the distance in words are not kept")
            return {"near": [w for w in m.group(1).split("-") if w]}
        if k == "phrase":
            self._note(tok, f"{tok.text}: the words in a row, imported as the phrase {tok.text.replace('+', '')}")
            return tok.text.replace("+", "")
        if k == "code":
            ref = tok.text[1:-1].lstrip("＊*")
            if ref not in self.known:
                self.problems.append(f"{self.name}:{tok.line}: {tok.text} names no code defined above it")
                return None
            return self.rule(self.known[ref])
        what = {"heading": "a heading", "outvar": "a variable", "length": "a length (lw/lc)", "number": "a document number",
                "hinshi": "a part of speech", "op": "a number"}.get(k, k)
        self.problems.append(f"{self.name}:{tok.line}: {tok.text}: {what} has no counterpart in a codebook")
        return None


def _flatten(node: Node) -> list[Node]:
    """The parts of an 'and' or 'or', with parenthesised parts of the same operator opened
    (( a & b ) & c is a & b & c)."""
    out = []
    for c in node.children:
        inner = c.children[0] if c.op == "group" else c
        out.extend(_flatten(inner) if inner.op == node.op else [c])
    return out


def _first_tok(node: Node) -> Tok | None:
    if node.tok is not None:
        return node.tok
    for c in node.children:
        t = _first_tok(c)
        if t is not None:
            return t
    return None


def _alternatives(node: Node) -> list[Node]:
    """The top-level alternatives of a condition: its 'or' parts (parentheses kept)."""
    if node.op == "or" and not any(c.op == "not" for c in node.children):
        return list(node.children)
    return [node]


def _id(name: str) -> str:
    return re.sub(r"\s+", "_", name.strip())


def codes_from_rules(text: str, name: str, *, kind: str = "theme", parent: str | None = None,
                     skip: bool = False) -> ImportResult:
    """Codes (with patterns) from a KH Coder rule file; see the module docstring. Raises
    :class:`KhCoderError` with every problem located unless ``skip`` leaves the codes with
    problems out (grammar errors always stop)."""
    rule_codes, problems = read_rules(text, name)
    if problems:
        raise KhCoderError(f"{name}: {len(problems)} problem(s) under KH Coder's grammar", problems)
    known: dict[str, Node] = {}
    out, notes, skipped, stop = [], [], [], []
    for rc in rule_codes:
        conv = _Convert(name, known)
        patterns = []
        meta_ids = rc.meta.get("patterns") or []
        meta_scores = rc.meta.get("scores") or []
        alts = _alternatives(rc.condition)
        for j, alt in enumerate(alts):
            data = conv.rule(alt.children[0] if alt.op == "group" else alt)
            if data is None:
                continue
            pat = {"id": meta_ids[j] if len(meta_ids) == len(alts) else f"p{j + 1}"}
            if len(meta_scores) == len(alts) and meta_scores[j] != 0.7:
                pat["score"] = meta_scores[j]
            pat.update(data if isinstance(data, dict) else {"phrase": data})
            patterns.append(pat)
        known[rc.name] = rc.condition
        if conv.problems:
            (skipped if skip else stop).extend(conv.problems)
            continue
        for pat in patterns:  # the codebook's own check of every pattern
            body = {k: v for k, v in pat.items() if k not in ("id", "score")}
            _, msgs = compile_rule(body, key=rc.name)
            stop.extend(f"{name}:{rc.line}: ＊{rc.name}: {m}" for m in msgs)
        notes.extend(conv.notes)
        meta = rc.meta
        out.append(ImportedCode(
            id=_id(rc.name), kind=str(meta.get("kind") or kind), label=str(meta.get("label") or rc.name),
            parent=meta.get("parent", parent), ref=meta.get("ref"), definition=str(meta.get("definition") or ""),
            patterns=tuple(patterns)))
    if stop:
        raise KhCoderError(f"{name}: {len(stop)} problem(s); nothing was imported", stop)
    return ImportResult(tuple(out), codes_yaml(out), tuple(notes), tuple(skipped))


def codes_yaml(codes: Sequence[ImportedCode]) -> str:
    """The codes as the ``codes:`` list of a codebook (patterns one per line, in flow style)."""
    lines = ["codes:"]
    for c in codes:
        lines.append(f"  - id: {_scalar(c.id)}")
        lines.append(f"    kind: {_scalar(c.kind)}")
        lines.append(f"    label: {_scalar(c.label)}")
        if c.parent:
            lines.append(f"    parent: {_scalar(c.parent)}")
        if c.ref:
            lines.append(f"    ref: {_scalar(c.ref)}")
        lines.append(f"    definition: {_scalar(c.definition)}")
        if c.patterns:
            lines.append("    patterns:")
            lines += [f"      - {_flow(p)}" for p in c.patterns]
    return "\n".join(lines) + "\n"


def _scalar(v: Any) -> str:
    return yaml.safe_dump(v, allow_unicode=True, default_flow_style=True, width=100000).strip().removesuffix("...").strip()


def _flow(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, default_flow_style=True, sort_keys=False, width=100000).strip()


def decode_rules(data: bytes, name: str) -> str:
    """A rule file's text: UTF-8 (± BOM) or CP932, as KH Coder reads either."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for enc in ("utf-8", "cp932"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise KhCoderError(f"{name}: neither UTF-8 nor CP932 text")


def import_rules(path: Path | str, *, kind: str = "theme", parent: str | None = None, skip: bool = False,
                 codebook: Codebook | None = None) -> ImportResult:
    """Read a KH Coder rule file into codebook codes (:func:`codes_from_rules`). With the
    ``codebook`` they are meant for, ``kind`` and ``parent`` are checked against it and the
    result names the codes it already has (``clashes``)."""
    path = Path(path)
    if codebook is not None:
        kinds = KINDS + tuple(codebook.settings.kinds)
        if kind not in kinds:
            raise OptionError(f"--kind {kind}: not a code kind of the codebook ({', '.join(kinds)})")
        if parent is not None and parent not in codebook.codes:
            raise OptionError(f"--parent {parent}: no such code in {codebook.path.name}")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise KhCoderError(f"{path}: cannot read: {e.strerror}") from None
    res = codes_from_rules(decode_rules(data, str(path)), str(path), kind=kind, parent=parent, skip=skip)
    if codebook is not None:
        res = replace(res, clashes=tuple(c.id for c in res.codes if c.id in codebook.codes))
    return res
