"""Shared fixtures: a throw-away project built from the repository's codebook."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "reference"


def reference(name: str) -> Path:
    """A file of the report's reference data (shared/reference beside the checkout)."""
    p = SHARED / name
    if not p.exists():
        pytest.skip(f"{p} not available on this machine")
    return p


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


@pytest.fixture
def project(tmp_path) -> Path:
    """An empty project folder with the repository's codebook."""
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
