"""What the action writes: the task for the model, the commit message, and the replies on the pull request.

Texts are Jinja2 templates shipped in this package. Everything that leaves passes the redactor.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import jinja2

from loopwright.github.event import PullComment
from loopwright.github.redact import Redactor
from loopwright.github.rest import PullRequest
from loopwright.github.sanitize import fence, strip_hidden
from loopwright.github.settings import REPLY_MARKER
from loopwright.loop import RunResult
from loopwright.tools.testreport import TestReport

MAX_DIFF_CHARS = 40_000
"""A comment holds 65,536 characters; the diff gets most of them and the rest of the reply the remainder."""


@cache
def _environment() -> jinja2.Environment:
    loader = jinja2.FunctionLoader(lambda name: resources.files("loopwright.github").joinpath("templates", name).read_text(encoding="utf-8"))
    return jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False, trim_blocks=True)


def render(name: str, **values: object) -> str:
    return _environment().get_template(name).render(**values).strip() + "\n"


def task_text(comment: PullComment, pull: PullRequest, request: str) -> str:
    review = comment.review
    return render(
        "task.j2",
        number=pull.number,
        title_block=fence(" ".join(strip_hidden(pull.title).split()), "text"),
        repository=pull.base_repository,
        author=comment.author,
        association=comment.association,
        request_block=fence(request, "text"),
        review=review,
        review_path=strip_hidden(review.path).replace("`", "'") if review else "",
        hunk_block=fence(strip_hidden(review.diff_hunk), "diff") if review else "",
    )


def commit_message(comment: PullComment, request: str, redact: Redactor) -> str:
    first = request.splitlines()[0] if request else "change requested"
    subject = first if len(first) <= 60 else first[:57].rstrip() + "..."
    body = f"Requested by @{comment.author} in {comment.url or f'#{comment.number}'}:\n\n{request}\n"
    return redact(f"loopwright: {subject}\n\n{body}")


@dataclass(frozen=True)
class Delivery:
    """What reached the pull request: the pushed commit (None when nothing changed) and the change itself."""

    branch: str
    commit: str | None
    diffstat: str = ""
    diff: str = ""


def success_reply(result: RunResult, before: TestReport | None, delivery: Delivery, request: str, redact: Redactor) -> str:
    if delivery.commit:
        headline = f"**loopwright** pushed {delivery.commit[:12]} to `{delivery.branch}`."
    elif result.reason != "submitted":
        kept = "its changes (below) were not pushed" if delivery.diffstat else "nothing was pushed"
        headline = f"**loopwright** stopped (`{result.reason}`) before finishing; {kept} to `{delivery.branch}`."
    else:
        headline = f"**loopwright** made no changes; nothing was pushed to `{delivery.branch}`."
    diff, cut = delivery.diff, 0
    if len(diff) > MAX_DIFF_CHARS:
        cut, diff = len(diff) - MAX_DIFF_CHARS, diff[:MAX_DIFF_CHARS]
    usage = result.usage
    text = render(
        "reply.md.j2",
        headline=headline,
        summary=_quote(result.submitted_summary),
        request_line=_one_line(request),
        reason=result.reason,
        detail=_one_line(result.detail) if result.reason != "submitted" else "",
        steps=result.steps,
        tests_before=_tests(before.passed if before else None, before.render().splitlines()[0] if before else ""),
        tests_after=_tests(result.tests_passed, result.test_summary),
        tokens=f"{usage.input_tokens:,} in, {usage.output_tokens:,} out",
        cost="unknown for this model" if usage.cost_usd is None else f"${usage.cost_usd:.4f}",
        diffstat=delivery.diffstat,
        diffstat_block=fence(delivery.diffstat),
        diff_block=fence(diff, "diff"),
        diff_cut=cut,
        marker=REPLY_MARKER,
    )
    return redact(text)


def failure_reply(comment: PullComment, branch: str, reason: str, redact: Redactor, hint: str = "") -> str:
    return redact(render("failure.md.j2", comment_url=comment.url, branch=branch, reason=_one_line(reason), hint=hint, marker=REPLY_MARKER))


def refusal_reply(reason: str, redact: Redactor) -> str:
    return redact(render("refusal.md.j2", reason=reason, marker=REPLY_MARKER))


def _tests(passed: bool | None, line: str) -> str:
    state = {True: "passed", False: "failing", None: "not run"}[passed]
    return f"{state} ({_one_line(line)})" if line else state


def _one_line(text: str, width: int = 200) -> str:
    line = " ".join(text.split())
    line = line if len(line) <= width else line[: width - 3] + "..."
    # A table cell ends at `|`, and a bare mention would notify whoever the model named.
    return line.replace("|", "\\|").replace("@", "@\u200b")


def _quote(text: str) -> str:
    if not text.strip():
        return ""
    return "\n".join("> " + line.replace("@", "@\u200b") for line in text.strip().splitlines())
