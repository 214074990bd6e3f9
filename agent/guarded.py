"""The mark of a setting that loosens isolation, reaches another host or starts a program on this machine.

A repository's loopwright.toml can be written by anyone who can write the repository: its authors, a pull
request, the commands run in the sandbox and the model's edits. Most of its settings only shape the work
(the test command, timeouts, the edit format); a few decide what the host does on the repository's behalf.
Those carry a `Guarded` mark in their annotation (`RunConfig`), so the classification lives on the setting
itself; `repotrust` applies a repository's value of one only when the person trusted it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loopwright.sandboxes.storage import parse_size

Loosens = Callable[[Any, Any], bool]
"""(the repository's value, the person's own value) -> whether the repository's is the looser of the two."""


def always(value: Any, own: Any) -> bool:
    return True


def turns_on(value: Any, own: Any) -> bool:
    return bool(value) and not own


def changes(value: Any, own: Any) -> bool:
    return bool(value != own)


def grows(value: Any, own: Any) -> bool:
    return float(value) > float(own)


def grows_size(value: Any, own: Any) -> bool:
    return parse_size(str(value)) > parse_size(str(own))


def names_a_host(value: Any, own: Any) -> bool:
    """A model spec with `@URL` sends the prompts (the code) there, and the provider's API key with them."""
    return value != own and "@" in str(value or "")


def weaker(*strongest_first: str) -> Loosens:
    """Loosens when the value ranks below the person's; a value outside the ranking is unknown, so looser."""

    def loosens(value: Any, own: Any) -> bool:
        if value == own:
            return False
        if value not in strongest_first or own not in strongest_first:
            return True
        return strongest_first.index(value) > strongest_first.index(own)

    return loosens


@dataclass(frozen=True)
class Guarded:
    """A setting a repository's file sets only with the person's trust, when its value is looser than theirs."""

    why: str
    """What the setting lets the repository do, for the person deciding whether to trust it."""
    loosens: Loosens = always
    """Whether a value is looser than the person's own (their config file's, else the default). A value no
    looser applies without trust: a repository may always tighten."""

    def is_looser(self, value: Any, own: Any) -> bool:
        """`loosens`, taking a value it cannot compare (a size it cannot read) as looser."""
        try:
            return self.loosens(value, own)
        except (TypeError, ValueError):
            return True
