"""Tagger rules as typed nodes, compiled once when the codebook loads (spaCy's ``add_patterns``).

A rule in ``codebook.yml`` is a bare phrase or a mapping of parts, all of which must hold:

* ``phrase`` (a bare string is one) — occurs in the window (``=`` first: on the surface text only);
* ``tokens`` — a spaCy Matcher token pattern;
* ``any`` — at least one sub-rule holds; ``all`` / ``near`` — every sub-rule holds;
* ``none`` — no sub-rule holds;
* ``scope: sentence|paragraph`` — the window this node and its sub-rules look at.

:func:`compile_rule` checks the data and builds a :class:`Rule`; :meth:`Rule.walk` is the one
visitor every question about a rule goes through (which phrases, which token attributes, can it
ever match).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from .settings import did_you_mean

SURFACE = "="  # a phrase "=少ない" is matched on the surface text only
PARTS = ("any", "all", "none", "near")
RULE_KEYS = frozenset({"phrase", "tokens", "scope", *PARTS})
SCOPES = ("sentence", "paragraph")


@dataclass(frozen=True, eq=False)
class Rule:
    """One node of a rule tree (see the module docstring). ``key`` names a token pattern in the
    spaCy Matcher the tagger builds."""

    phrase: str | None = None
    tokens: tuple[Mapping[str, Any], ...] | None = None
    key: str = ""
    any: tuple["Rule", ...] = ()
    all: tuple["Rule", ...] = ()
    none: tuple["Rule", ...] = ()
    near: tuple["Rule", ...] = ()
    scope: str | None = None
    bare: bool = False  # written as a bare string in the codebook

    def walk(self, *, positive: bool = False) -> Iterator["Rule"]:
        """Every node, depth first; ``positive``: only those outside any ``none``."""
        yield self
        for part in (("any", "all", "near") if positive else PARTS):
            for sub in getattr(self, part):
                yield from sub.walk(positive=positive)

    def phrases(self, *, positive: bool = False) -> list[str]:
        return [n.phrase for n in self.walk(positive=positive) if n.phrase is not None]

    def token_specs(self) -> list[Mapping[str, Any]]:
        return [spec for n in self.walk() if n.tokens for spec in n.tokens]

    @property
    def uses_tokens(self) -> bool:
        return any(n.tokens is not None for n in self.walk())

    def required_phrases(self) -> set[str] | None:
        """Phrases one of which must occur for the rule to hold (those outside ``none``), or None
        when that cannot be told from phrases (a token pattern takes part)."""
        if any(n.tokens is not None for n in self.walk(positive=True)):
            return None
        return set(self.phrases(positive=True))

    def can_match(self) -> bool:
        """False for a rule that only excludes (``none`` alone) or needs an impossible part."""
        if self.phrase is None and self.tokens is None and not (self.any or self.all or self.near):
            return False
        if self.any and not any(r.can_match() for r in self.any):
            return False
        return all(r.can_match() for r in self.all)

    def to_data(self) -> Any:
        """The rule as plain data, as written in the codebook (a bare phrase stays a string)."""
        if self.bare:
            return self.phrase
        out: dict[str, Any] = {}
        for part in PARTS:
            subs = getattr(self, part)
            if subs:
                out[part] = [r.to_data() for r in subs]
        if self.phrase is not None:
            out["phrase"] = self.phrase
        if self.scope is not None:
            out["scope"] = self.scope
        if self.tokens is not None:
            out["tokens"] = [dict(t) for t in self.tokens]
        return out


def compile_rule(raw: Any, *, key: str = "t") -> tuple[Rule | None, list[str]]:
    """A :class:`Rule` from codebook data, and every problem found (short messages). ``key``
    prefixes the Matcher keys of the rule's token patterns."""
    problems: list[str] = []
    counter = [0]

    def build(node: Any) -> Rule | None:
        if isinstance(node, str):
            if not node.strip():
                problems.append("empty phrase")
                return None
            return Rule(phrase=node, bare=True)
        if not isinstance(node, dict):
            problems.append(f"a rule must be a phrase or a mapping, got {node!r}")
            return None
        for k in sorted(map(str, {k for k in node if not (isinstance(k, str) and k.startswith("__"))} - RULE_KEYS)):
            problems.append(f"unknown key '{k}'{did_you_mean(k, RULE_KEYS)}")
        scope = node.get("scope")
        if scope is not None and scope not in SCOPES:
            problems.append(f"scope must be 'sentence' or 'paragraph', got '{scope}'")
            scope = None
        parts: dict[str, tuple[Rule, ...]] = {}
        for part in PARTS:
            if part not in node:
                continue
            val = node[part]
            if not isinstance(val, list) or not val:
                problems.append(f"'{part}' must be a non-empty list")
                continue
            subs = [build(sub) for sub in val]
            parts[part] = tuple(s for s in subs if s is not None)
        phrase = None
        if "phrase" in node:
            if not isinstance(node["phrase"], str) or not node["phrase"].strip():
                problems.append("'phrase' must be a non-empty string")
            else:
                phrase = node["phrase"]
        tokens, tkey = None, ""
        if "tokens" in node:
            msgs = check_tokens(node["tokens"])
            problems.extend(msgs)
            if not msgs:
                tokens = tuple(dict(t) for t in node["tokens"])
                counter[0] += 1
                tkey = f"{key}:{counter[0]}"
        return Rule(phrase=phrase, tokens=tokens, key=tkey, scope=scope, **parts)

    rule = build(raw)
    return (rule if not problems else None), problems


def check_tokens(tokens: Any) -> list[str]:
    """Problems of a spaCy Matcher token pattern (validated by spaCy itself)."""
    if not isinstance(tokens, list) or not tokens or not all(isinstance(t, dict) for t in tokens):
        return ["'tokens' must be a non-empty list of token specs (spaCy Matcher syntax)"]
    from spacy.errors import MatchPatternError
    from spacy.matcher import Matcher
    from spacy.vocab import Vocab

    try:
        Matcher(Vocab(), validate=True).add("check", [tokens])
    except MatchPatternError as e:
        msgs = re.findall(r"- \[[^\]]*\] (.*)", str(e)) or [str(e).strip().splitlines()[-1]]
        return [f"bad token pattern: {m}" for m in msgs]
    except (ValueError, TypeError) as e:
        return [f"bad token pattern: {e}"]
    return []
