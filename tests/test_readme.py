"""The README's Quick start is what CI runs: exactly two commands, extracted by .ci/quickstart.py."""
from __future__ import annotations

import importlib.util

import pytest

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("quickstart", ROOT / ".ci" / "quickstart.py")
quickstart = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(quickstart)


def test_readme_quick_start_has_the_two_commands_ci_runs():
    cmds = quickstart.quickstart_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert cmds == ["python3 bootstrap.py run", "python3 bootstrap.py test"]


@pytest.mark.parametrize("readme, message", [
    ("# Title\n\n## Layout\n", "no '## Quick start' section"),
    ("## Quick start\n\nJust run it.\n\n## Next\n", "no ```sh code block"),
    ("## Quick start\n\n```sh\npython3 bootstrap.py run\n```\n", "exactly two commands"),
    ("## Quick start\n\n```sh\na\nb\nc\n```\n## Next\n", "found 3"),
])
def test_quick_start_block_missing_or_not_two_commands_is_refused(readme, message):
    with pytest.raises(quickstart.QuickstartError, match=message.replace("(", r"\(").replace("*", r"\*")):
        quickstart.quickstart_commands(readme)


def test_comment_lines_in_the_block_are_not_commands():
    readme = "## Quick start\n\n```sh\n# install and run\nmake a\n\n# test\nmake b\n```\n"
    assert quickstart.quickstart_commands(readme) == ["make a", "make b"]
