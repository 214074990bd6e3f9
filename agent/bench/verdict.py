"""Whether a task is resolved and, when not, the first thing that went wrong, in one line.

Resolved, as in SWE-bench, with one more check: every FAIL_TO_PASS test failed before the fix and passes
after it, and every PASS_TO_PASS test (of the sample) passes after it. Tests that pass without having run
against the repository's code, or a run that collected nothing, make a *false pass*: not resolved, and
counted apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from loopwright.bench.environment import Environment
from loopwright.bench.fixes import Fix
from loopwright.bench.testrun import Outcomes

MESSAGE_CHARS = 200


@dataclass(frozen=True)
class Verdict:
    status: Literal["resolved", "unresolved", "error"]
    """resolved or unresolved."""
    cause: str = ""
    false_pass: bool = False


def judge(fail_to_pass: Sequence[str], pass_to_pass: Sequence[str], env: Environment, before: Outcomes, fix: Fix, after: Outcomes | None) -> Verdict:
    everything = [*fail_to_pass, *pass_to_pass]
    if env.failures and not any(before.ran(t) for t in everything):
        return _missed(f"setup: {env.failures[0]}")
    passed = [t for t in fail_to_pass if before.passing(t)]
    if passed:
        return _missed(f"FAIL_TO_PASS passed before the fix: {passed[0]}{_more(passed)}")
    # Tests a module's import error kept from running did not pass before the fix, as SWE-bench counts them.
    unran = [t for t in fail_to_pass if not before.failed(t) and not (before.collection_failed and not before.ran(t))]
    if unran:
        return _missed(f"FAIL_TO_PASS did not run before the fix: {_not_run(before, unran)}")
    if not fix.applied or after is None:
        return _missed(fix.cause or "the fix was not applied")
    agent = f"; {fix.cause}" if fix.cause else ""
    failing = [t for t in fail_to_pass if not after.passing(t)]
    if failing:
        if not any(after.ran(t) for t in failing):
            return _missed(f"FAIL_TO_PASS did not run after the fix: {_not_run(after, failing)}{agent}")
        return _missed(f"FAIL_TO_PASS still fails after the fix: {_failure(after, [t for t in failing if after.ran(t)])}{agent}")
    broken = [t for t in pass_to_pass if not after.passing(t)]
    if broken:
        if not any(after.ran(t) for t in broken):
            return _missed(f"PASS_TO_PASS did not run after the fix: {_not_run(after, broken)}")
        ran = [t for t in broken if after.ran(t)]
        if all(not before.passing(t) for t in ran):
            return _missed(f"PASS_TO_PASS fails before and after the fix: {_failure(after, ran)}")
        return _missed(f"PASS_TO_PASS broke: {_failure(after, [t for t in ran if before.passing(t)])}")
    if before.outside_repository or after.outside_repository:
        return Verdict("unresolved", "false pass: the tests ran against code outside the work tree", True)
    if after.nothing_collected:
        return Verdict("unresolved", "false pass: the test run collected nothing", True)
    return Verdict("resolved")


def _missed(cause: str) -> Verdict:
    return Verdict("unresolved", " ".join(cause.split()))


def _failure(run: Outcomes, test_ids: Sequence[str]) -> str:
    first = test_ids[0]
    message = run.messages.get(first, "") or run.outcomes.get(first, "")
    return f"{first} - {message[:MESSAGE_CHARS]}{_more(test_ids)}"


def _not_run(run: Outcomes, test_ids: Sequence[str]) -> str:
    if run.note:
        return run.note
    return f"{test_ids[0]} ({run.outcomes.get(test_ids[0], 'not run')}){_more(test_ids)}"


def _more(test_ids: Sequence[str]) -> str:
    return f" (and {len(test_ids) - 1} more)" if len(test_ids) > 1 else ""
