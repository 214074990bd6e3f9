"""What the sandbox's setup phase did for a task, read from the sandbox (its `setup_report` where it has one)."""

from __future__ import annotations

from dataclasses import dataclass

from loopwright.sandboxes.base import Sandbox


@dataclass(frozen=True)
class Environment:
    ok: bool
    failures: tuple[str, ...] = ()
    """One line per setup step that failed."""
    cached: bool | None = None
    """True: the environment came from a cache (nothing installed); False: it was built now; None: no setup."""
    details: tuple[str, ...] = ()
    """What the setup report says, one fact a line, for the task's log."""


def environment_of(box: Sandbox) -> Environment:
    report = getattr(box, "setup_report", None)
    if report is None:
        cached = getattr(box, "deps_cached", None) if getattr(box, "deps_image", None) else None
        return Environment(ok=True, cached=cached)
    failures = tuple(_one_line(item) for item in getattr(report, "failures", ()) or ())
    ok = getattr(report, "ok", None)
    lines = getattr(report, "lines", None)
    details = tuple(str(line) for line in lines()) if callable(lines) else ()
    return Environment(ok=(not failures) if ok is None else bool(ok), failures=failures, cached=getattr(report, "cached", None), details=details)


def _one_line(failure: object) -> str:
    """A setup failure as the report words it (`numpy: no wheel for Python 3.11 [install]`)."""
    line = getattr(failure, "line", None)
    text = line() if callable(line) else str(failure)
    return next((part.strip() for part in text.splitlines() if part.strip()), "a setup step failed")
