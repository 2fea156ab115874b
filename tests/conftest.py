"""Shared fixtures: a throw-away project built from the repository's codebook."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The sample report's facts as the project's own data, so every comparison with the report runs in
# any clone: its reference list ships with the library, its tables with the tests.
REFERENCE = {"report_refs.yml": ROOT / "coding" / "data" / "report_refs.yml",
             "report_tables.yml": ROOT / "tests" / "data" / "report_tables.yml"}


def reference(name: str) -> Path:
    """A file of the report's reference data (never missing: it is part of the repository)."""
    return REFERENCE[name]


FRONT = """---
id: {id}
org: {org}
region: {region}
country: {country}
kind: {kind}
attribute: {attribute}
date: {date}
---
"""


def transcript_text(body: str, *, id="JP-T", org="T大学", region="日本", country="日本", kind="国立大",
                    attribute="国立大", date="2025-10-01") -> str:
    return FRONT.format(id=id, org=org, region=region, country=country, kind=kind, attribute=attribute, date=date) + body


def with_settings(cb, section: str, **changes):
    """The codebook ``cb`` with ``changes`` in one settings section, e.g.
    ``with_settings(cb, "tagger.learned", min_cv_f1=0.5)``."""
    from dataclasses import replace

    path = section.split(".")

    def rebuild(obj, names):
        if not names:
            return replace(obj, **changes)
        return replace(obj, **{names[0]: rebuild(getattr(obj, names[0]), names[1:])})

    return replace(cb, settings=rebuild(cb.settings, path))


def rules_only(text: str) -> str:
    """The sample codebook's text without its learned suggester (rules alone: what a test of the
    rules asserts must not move when the model is retrained)."""
    out = text.replace("learned: {model: sample, ", "learned: {")
    assert out != text, "the sample codebook no longer names its model as the tests expect"
    return out


@pytest.fixture
def project(tmp_path) -> Path:
    """An empty project folder with the repository's codebook, rules only."""
    (tmp_path / "transcripts").mkdir()
    (tmp_path / "codebook.yml").write_text(rules_only((ROOT / "codebook.yml").read_text(encoding="utf-8")), encoding="utf-8")
    return tmp_path


@pytest.fixture
def sample_project(tmp_path) -> Path:
    """An empty project folder with the repository's codebook as shipped (with its model)."""
    (tmp_path / "transcripts").mkdir()
    shutil.copy(ROOT / "codebook.yml", tmp_path / "codebook.yml")
    return tmp_path


@pytest.fixture
def write(project):
    """write(name, body, **front) → path of a new UTF-8 transcript in the project."""

    def _write(name: str, body: str, **front) -> Path:
        p = project / "transcripts" / name
        p.write_text(transcript_text(body, **front), encoding="utf-8")
        return p

    return _write


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="Rewrite tests/golden/* from the current output (review the diff!).")


@pytest.fixture
def golden(request):
    """golden(name, text): compare ``text`` with tests/golden/<name>, or rewrite it with --update-golden."""

    def _check(name: str, text: str) -> None:
        path = ROOT / "tests" / "golden" / name
        if request.config.getoption("--update-golden"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        assert path.exists(), f"{path} missing: run pytest --update-golden and review it"
        assert text == path.read_text(encoding="utf-8")

    return _check
