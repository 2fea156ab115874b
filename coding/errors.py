"""Domain errors. The library raises these; ``cli.py`` turns them into friendly messages."""
from __future__ import annotations


class CodingError(Exception):
    """Base class of every error a user can cause and fix."""

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = list(problems or [])
        super().__init__(message)

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return head + "\n" + "\n".join(f"  {p}" for p in self.problems)


class TranscriptError(CodingError):
    """A transcript cannot be read: encoding, front matter or a duplicate id."""


class CodebookError(CodingError):
    """The codebook is malformed; ``problems`` lists every located problem."""


class StoreError(CodingError):
    """The codings store or an imported codings file is malformed."""


class ProjectError(CodingError):
    """The project folder is missing something it needs."""


class OptionError(CodingError):
    """Options of a command that do not fit together."""


class WriteError(CodingError):
    """A file could not be written (disk full, no permission); nothing was changed."""


class ExchangeError(CodingError):
    """A REFI-QDA file (.qdpx, .qdc) cannot be read or written, or does not map onto the project."""
