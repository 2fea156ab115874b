"""Set up the toolkit in a virtual environment inside the project, then run a job in it.

    python3 bootstrap.py run            # create .venv, install, run the main job on the sample
    python3 bootstrap.py test           # the tests, in the same environment
    python3 bootstrap.py cli ARGS...    # any command of cli.py, e.g. cli init ../my-study

Works with the system Python of Debian/Ubuntu (which refuses installs outside a virtual
environment, PEP 668) as long as its venv module is there (package python3-venv), and with a
python.org Python on macOS or Windows (there, type ``py`` instead of ``python3``). Only the
standard library is used here; the packages go into ``.venv`` and are installed again only when
requirements.txt changes.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".requirements.sha1"
USAGE = "usage: python3 bootstrap.py run|test|cli [ARGS...]"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _requirements_hash() -> str:
    return hashlib.sha1((ROOT / "requirements.txt").read_bytes()).hexdigest()


def ensure_environment() -> Path:
    """The virtual environment's Python, created and installed on first use."""
    py = venv_python()
    if not py.exists():
        print(f"creating a virtual environment in {VENV} ...", flush=True)
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except (subprocess.CalledProcessError, OSError) as e:
            sys.exit(
                f"cannot create {VENV}: {e}\n"
                "On Debian or Ubuntu install the venv module first: sudo apt install python3-venv"
            )
    want = _requirements_hash()
    if not STAMP.exists() or STAMP.read_text().strip() != want:
        print("installing the requirements (spaCy, GiNZA and the rest; a few minutes the first time) ...", flush=True)
        run = [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        if subprocess.call(run + ["-r", str(ROOT / "requirements.txt")]) != 0:
            sys.exit("pip could not install requirements.txt (see above)")
        STAMP.write_text(want + "\n")
    return py


def main(argv: list[str]) -> int:
    job, rest = (argv[0], argv[1:]) if argv else ("run", [])
    if job not in ("run", "test", "cli"):
        print(USAGE, file=sys.stderr)
        return 2
    py = ensure_environment()
    if job == "test":
        cmd = [str(py), "-m", "pytest", *rest]
    elif job == "cli":  # paths in ARGS are the caller's, so stay in the caller's folder
        return subprocess.call([str(py), str(ROOT / "cli.py"), *rest])
    else:
        cmd = [str(py), str(ROOT / "cli.py"), "run", *rest]
    return subprocess.call(cmd, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
