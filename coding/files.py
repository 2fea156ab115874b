"""Files: the one atomic writer every stage uses, and the framed format of cache files.

Writes go to a temp file in the target's folder, then ``os.replace``: a reader (or a run killed
half-way) sees the old file or the new one, never a torn one. Temp files are named
``.<name>.<random>.tmp`` (``.gitignore`` covers them; ``code --prune`` deletes strays).

A cache file is *framed*: one JSON header line (format, key, codec, checksum of the rest), then
the payload. :func:`read_framed` returns None for anything it cannot trust — missing, truncated,
corrupt, another format, another key — and the caller recomputes.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import WriteError

_MODE: list[int] = []


def _file_mode() -> int:
    """The mode a plainly created file gets under the current umask (mkstemp makes 0600)."""
    if not _MODE:
        mask = os.umask(0)
        os.umask(mask)
        _MODE.append(0o666 & ~mask)
    return _MODE[0]


def atomic_write_bytes(path: Path | str, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically. ``fsync=False`` for regenerable files (caches),
    where a lost write only costs a recompute."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise WriteError(f"{path}: cannot write: {e.strerror or e}; nothing was changed") from None
    try:
        os.chmod(tmp, _file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise WriteError(f"{path}: cannot write: {e.strerror or e} (disk full?); the file was left as it was") from None
        raise


def atomic_write_text(path: Path | str, text: str, *, bom: bool = False) -> None:
    """Write UTF-8 text atomically, newlines as given (``bom``: with a byte-order mark, which
    Excel needs to open a CSV as UTF-8)."""
    data = text.encode("utf-8")
    atomic_write_bytes(path, (b"\xef\xbb\xbf" + data) if bom else data)


def sha1(data: str | bytes, n: int = 24) -> str:
    """A short hex digest (cache keys, fingerprints)."""
    return hashlib.sha1(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()[:n]


def file_sha(path: Path) -> str | None:
    """:func:`sha1` of a file's bytes, or None when it cannot be read."""
    try:
        return sha1(Path(path).read_bytes())
    except OSError:
        return None


def write_framed(path: Path, fmt: str, key: str, payload: Any, *, codec: str = "json") -> None:
    """A cache file: the header line, then the payload as JSON or as ``marshal`` (3x faster to
    read; only ever read back after its checksum matched, and keys that use it name the Python
    version)."""
    if codec == "marshal":
        import marshal

        body = marshal.dumps(payload)
    else:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    head = json.dumps({"format": fmt, "key": key, "codec": codec, "sha1": hashlib.sha1(body).hexdigest()}).encode("utf-8")
    atomic_write_bytes(path, head + b"\n" + body, fsync=False)


def read_framed(path: Path, fmt: str, key: str) -> Any:
    """The payload of a file written by :func:`write_framed`, or None when it is missing,
    truncated, corrupt (checksum), of another format or for another key."""
    try:
        data = Path(path).read_bytes()
        head, _, body = data.partition(b"\n")
        h = json.loads(head)
        if h.get("format") != fmt or h.get("key") != key or h.get("sha1") != hashlib.sha1(body).hexdigest():
            return None
        if h.get("codec", "json") == "marshal":
            import marshal

            return marshal.loads(body)
        return json.loads(body) if h.get("codec", "json") == "json" else None
    except Exception:
        return None


@contextmanager
def all_or_nothing(paths: Iterable[Path | str]) -> Iterator[None]:
    """Files among ``paths`` that the block writes are kept only when the block completes; when
    it raises, each is put back as it was (one that did not exist is removed, and so is a folder
    the block had to create). The old files are kept as hard links, so putting them back needs
    no free space — a full disk is the usual reason to get there."""
    kept: dict[Path, Path | bytes | None] = {}
    made: list[Path] = []
    for p in map(Path, paths):
        if not p.parent.exists() and p.parent not in made:
            made.append(p.parent)
        if not p.exists():
            kept[p] = None
            continue
        link = p.with_name(f".{p.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.link(p, link)
            kept[p] = link
        except OSError:  # no hard links here: keep the bytes instead
            kept[p] = p.read_bytes()
    try:
        yield
    except BaseException:
        for p, old in kept.items():
            try:
                if old is None:
                    p.unlink(missing_ok=True)
                elif isinstance(old, Path):
                    os.replace(old, p)
                else:
                    atomic_write_bytes(p, old)
            except OSError:
                pass
        for d in made:
            try:
                d.rmdir()
            except OSError:
                pass
        raise
    for old in kept.values():
        if isinstance(old, Path):
            old.unlink(missing_ok=True)
