"""Retries with jittered exponential backoff that honour the server's Retry-After."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from loopwright.deadline import current
from loopwright.model import ModelError, one_line
from loopwright.models.httpguard import TIMEOUT_ERRORS

T = TypeVar("T")

TRANSIENT_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
MALFORMED_ERRORS = (ValueError, TypeError, AttributeError, KeyError, IndexError)
"""What reading an answer of the wrong shape raises: invalid JSON, a missing field, a number for a string..."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    """Tries in all, the first one included."""
    base_delay: float = 1.0
    """Seconds before the second try; doubled for each later one."""
    max_delay: float = 60.0
    """Cap on one computed wait."""
    max_retry_after: float = 300.0
    """Cap on a server-requested wait: a longer Retry-After ends the retries instead."""

    def delay(self, retry: int, retry_after: float | None, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        backoff = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        # Full jitter in the upper half keeps many clients from retrying in lockstep without waiting too little.
        jittered = backoff * (0.5 + rng() / 2)
        if retry_after is None:
            return jittered
        return max(retry_after, 0.0) + jittered * 0.1


class StatusError(ModelError):
    """An HTTP error answer from a backend, with what the retry logic needs to know about it."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        transient: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self._transient = transient

    @property
    def transient(self) -> bool:
        """Worth another try: no HTTP answer at all (timeouts, resets) or a status that says "later"."""
        if self._transient is not None:
            return self._transient
        return self.status is None or self.status in TRANSIENT_STATUSES


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a Retry-After (or retry-after-ms) header: delta-seconds or an HTTP date."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return float(lowered["retry-after-ms"]) / 1000
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


def call_with_retries(
    attempt: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
    on_retry: Callable[[int, float, StatusError], None] | None = None,
) -> T:
    """Run `attempt` until it succeeds, a permanent error comes, or the tries run out.

    Error messages already name the model and the server; the last one is raised with the number of tries added.
    Inside a `bounded` call no wait goes past the deadline: a retry that would is not made.
    """
    deadline = current()
    for number in range(1, policy.attempts + 1):
        try:
            return attempt()
        except StatusError as error:
            if not error.transient:
                raise
            if error.retry_after is not None and error.retry_after > policy.max_retry_after:
                raise ModelError(f"{error} (the server asks to wait {error.retry_after:.0f}s; giving up)") from None
            if number == policy.attempts:
                raise ModelError(f"{error} (gave up after {policy.attempts} tries)") from None
            wait = policy.delay(number, error.retry_after, rng)
            if deadline is not None and wait >= deadline.left():
                raise ModelError(f"{error} (no time left in the run for another try)") from None
            if on_retry is not None:
                on_retry(number, wait, error)
            sleep(wait)
    raise AssertionError("unreachable: the loop returns or raises")


def no_answer_error(sdk: Any, name: str, base_url: str, error: Exception, answered: bool) -> StatusError:
    """The error for a request that got no HTTP status: a timeout, no connection, or an answer broken off.

    `sdk` is the provider's client module (openai, anthropic): both name these errors alike."""
    if isinstance(error, sdk.APITimeoutError):
        return StatusError(f"{name}: no answer from {base_url} within the timeout")
    if isinstance(error, sdk.APIConnectionError):
        # A server that has never answered is a wrong address, not a restart: say so at once.
        reason = one_line(error.__cause__ or error)
        return StatusError(f"{name}: cannot reach {base_url}: {reason}", transient=answered)
    return StatusError(f"{name}: {base_url} broke off the answer: {one_line(error)}")


def broken_off_error(name: str, base_url: str, error: Exception) -> StatusError:
    """The error for an HTTP library's own error while an answer was being read (not every SDK wraps those)."""
    if isinstance(error, TIMEOUT_ERRORS):
        return StatusError(f"{name}: no answer from {base_url} within the timeout")
    return StatusError(f"{name}: {base_url} broke off the answer: {one_line(error) or type(error).__name__}")


def malformed_answer_error(name: str, base_url: str, error: Exception) -> StatusError:
    """The error for an answer that is not what the API promises; asking again would not mend it."""
    if isinstance(error, json.JSONDecodeError):
        what = f"invalid JSON ({error.msg} at position {error.pos})"
    else:
        what = f"{type(error).__name__}: {one_line(error, 200)}"
    return StatusError(f"{name}: {base_url} sent a malformed answer: {what}", transient=False)
