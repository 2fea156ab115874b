"""The phrase audit (tests/dev/phrase_audit.py): no codebook phrase comes from development data
alone without a reason on record, and the record names only phrases the codebook still has."""
from __future__ import annotations

import sys

import yaml

from coding.codebook import load_codebook

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "dev"))
import phrase_audit  # noqa: E402


def _justified() -> dict[str, str]:
    return yaml.safe_load((ROOT / "tests" / "dev" / "phrase_audit_justified.yml").read_text(encoding="utf-8")) or {}


def test_every_phrase_found_in_development_data_alone_is_justified():
    found = phrase_audit.audit(load_codebook(ROOT / "codebook.yml"))
    justified = _justified()
    unjustified = sorted((code, phrase) for code, rows in found.items() for phrase, _ in rows if phrase not in justified)
    assert unjustified == [], "fragments of development sentences: remove them or justify them"


def test_the_record_of_justified_phrases_names_only_phrases_the_codebook_has():
    cb = load_codebook(ROOT / "codebook.yml")
    phrases = {x.lstrip("=") for p in cb.patterns for x in p.rule.phrases()}
    justified = _justified()
    assert justified and all(reason.strip() for reason in justified.values())
    assert sorted(set(justified) - phrases) == []


def test_the_audit_finds_a_phrase_copied_from_a_development_sentence(tmp_path):
    """A phrase only a development note holds is listed, with the note it came from."""
    dev_note = next(p for p in sorted((ROOT / "tests" / "dev" / "transcripts").glob("DV-*.md")))
    body = dev_note.read_text(encoding="utf-8").split("\n---\n", 1)[1]
    general = phrase_audit.general_sources(load_codebook(ROOT / "codebook.yml"))
    line = next(ln for ln in body.splitlines() if len(ln) > 30)
    fragment = next(line[i:i + 9] for i in range(len(line) - 9)
                    if not any(phrase_audit.fold(line[i:i + 9]) in t for t in general.values()))
    text = (ROOT / "codebook.yml").read_text(encoding="utf-8")
    marker = "      - {id: filing, any: ["
    assert marker in text
    (tmp_path / "codebook.yml").write_text(text.replace(marker, marker + fragment + ", ", 1), encoding="utf-8")
    found = phrase_audit.audit(load_codebook(tmp_path / "codebook.yml"))
    hits = [(code, where) for code, rows in found.items() for phrase, where in rows if phrase == fragment]
    assert hits and hits[0][0] == "交渉前" and any(dev_note.name in w for w in hits[0][1])
