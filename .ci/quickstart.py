"""The README's Quick start: exactly two shell commands in the ```sh block under '## Quick start'.

    python3 .ci/quickstart.py README.md    # prints the two commands, one per line; exit 1 otherwise

CI runs these lines verbatim, so the README and CI cannot disagree; tests/test_readme.py checks
that a README without the block, or with other than two commands, is refused.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path


class QuickstartError(ValueError):
    """The README has no usable Quick start block."""


def quickstart_commands(readme: str) -> list[str]:
    """The commands of the Quick start block (comment and blank lines ignored)."""
    m = re.search(r"^##\s+Quick start\s*$(.*?)(?=^##\s)", readme + "\n## end\n", flags=re.M | re.S)
    if m is None:
        raise QuickstartError("README.md has no '## Quick start' section")
    block = re.search(r"^```(?:sh|bash|shell|console)?\s*\n(.*?)^```", m.group(1), flags=re.M | re.S)
    if block is None:
        raise QuickstartError("the Quick start section has no ```sh code block")
    cmds = [ln.strip() for ln in block.group(1).splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if len(cmds) != 2:
        raise QuickstartError(f"the Quick start block must hold exactly two commands (install and run; test), found {len(cmds)}")
    return cmds


if __name__ == "__main__":
    try:
        print("\n".join(quickstart_commands(Path(sys.argv[1] if len(sys.argv) > 1 else "README.md").read_text(encoding="utf-8"))))
    except (QuickstartError, OSError) as e:
        sys.exit(f"quickstart: {e}")
