"""What the action writes: the task for the model, the commit message, and the replies on the pull request.

Texts are Jinja2 templates shipped in this package. Everything that leaves passes the redactor. In a
reply every value the template shows is made inert (`sanitize.inert`) unless it is already `Markdown`:
our own words, or untrusted text put in a code block or code span it cannot close.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

import jinja2

from loopwright.events import Summary, TestRun
from loopwright.github.event import PullComment
from loopwright.github.redact import Redactor
from loopwright.github.rest import PullRequest
from loopwright.github.sanitize import Markdown, code_block, code_span, fence, inert, strip_hidden
from loopwright.github.settings import REPLY_MARKER

MAX_DIFF_CHARS = 40_000
"""A comment holds 65,536 characters; the diff gets most of them and the rest of the reply the remainder."""
MAX_SUMMARY_CHARS = 4_000


@cache
def _environment(posted: bool) -> jinja2.Environment:
    loader = jinja2.FunctionLoader(lambda name: resources.files("loopwright.github").joinpath("templates", name).read_text(encoding="utf-8"))
    finalize = _shown if posted else None
    return jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False, trim_blocks=True, finalize=finalize)


def _shown(value: object) -> str:
    return value if isinstance(value, Markdown) else inert(str(value))


def render(name: str, **values: object) -> str:
    """The task for the model (not posted)."""
    return _environment(False).get_template(name).render(**values).strip() + "\n"


def _reply(name: str, **values: object) -> str:
    return _environment(True).get_template(name).render(**values, marker=Markdown(REPLY_MARKER)).strip() + "\n"


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


@dataclass(frozen=True)
class WorkflowRun:
    """The GitHub Actions run this is, from the runner's own variables; its artifacts hold the trajectory."""

    server_url: str
    repository: str
    run_id: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WorkflowRun | None:
        server, repository, run_id = (env.get(name, "").strip() for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
        if re.fullmatch(r"https?://[\w.:-]+", server) and re.fullmatch(r"[\w.-]+/[\w.-]+", repository) and run_id.isdigit():
            return cls(server, repository, run_id)
        return None

    @property
    def url(self) -> str:
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"


@dataclass(frozen=True)
class Pickup:
    """How to continue the run in a terminal: the trajectory's file, and the workflow run whose artifacts hold it."""

    file_name: str
    run: WorkflowRun | None = None

    def text(self) -> Markdown:
        if self.run is None:
            return Markdown(f"To continue this run in your terminal, run {code_span('loopwright resume')} on its trajectory {code_span(self.file_name)} in your clone.")
        download = code_span(f"gh run download {self.run.run_id} --repo {self.run.repository} --dir ~/loopwright-run")
        # Every part of the link comes from the runner's GITHUB_* variables, checked by `from_env`.
        return Markdown(
            f"To continue this run in your terminal, download its trajectory from the [workflow run's artifacts]({self.run.url}#artifacts) "
            f"(or {download}), then run {code_span('loopwright resume ~/loopwright-run')} in your clone."
        )


def success_reply(
    result: Summary, before: TestRun | None, delivery: Delivery, request: str, redact: Redactor, pickup: Pickup | None = None
) -> str:
    """The reply to a run that ended, from its events: the summary and the structured test reports."""
    # Secrets are masked before the text is made inert: escaping (`ghs\_...`) would hide them from the redactor.
    branch = code_span(redact(delivery.branch))
    if delivery.commit:
        headline = f"**loopwright** pushed {delivery.commit[:12]} to {branch}."
    elif result.reason != "submitted":
        kept = "its changes (below) were not pushed" if delivery.diffstat else "nothing was pushed"
        headline = f"**loopwright** stopped ({code_span(result.reason)}) before finishing; {kept} to {branch}."
    else:
        headline = f"**loopwright** made no changes; nothing was pushed to {branch}."
    diff, cut = redact(delivery.diff), 0
    if len(diff) > MAX_DIFF_CHARS:
        cut, diff = len(diff) - MAX_DIFF_CHARS, diff[:MAX_DIFF_CHARS]
    usage = result.usage
    text = _reply(
        "reply.md.j2",
        headline=Markdown(headline),
        summary=_quote(redact(result.submitted_summary)),
        request_line=_cell(redact(request)),
        reason=code_span(result.reason, in_table=True),
        detail=_cell(redact(result.detail)) if result.reason != "submitted" else "",
        steps=result.steps,
        tests_before=_tests(before, redact),
        tests_after=_tests(result.test_run, redact, result.test_summary),
        tokens=f"{usage.input_tokens:,} in, {usage.output_tokens:,} out",
        cost="unknown for this model" if usage.cost_usd is None else f"${usage.cost_usd:.4f}",
        diffstat=delivery.diffstat,
        diffstat_block=code_block(redact(delivery.diffstat)),
        diff_block=code_block(diff, "diff"),
        diff_cut=cut,
        pickup=pickup.text() if pickup else "",
    )
    return redact(text)


def failure_reply(comment: PullComment, branch: str, reason: str, redact: Redactor, hint: str = "") -> str:
    # The comment's URL is GitHub's own (from the webhook payload), shown as the link it is.
    url = Markdown(comment.url) if comment.url else ""
    return redact(_reply("failure.md.j2", comment_url=url, branch=code_span(redact(branch)), reason=_cell(redact(reason)), hint=hint))


def refusal_reply(reason: str, redact: Redactor) -> str:
    """`reason` is built by `access` from GitHub's own fields (logins, associations, repository names) and settings."""
    return redact(_reply("refusal.md.j2", reason=Markdown(reason)))


def _tests(run: TestRun | None, redact: Redactor, why_none: str = "") -> Markdown:
    """A run's verdict from its structured report; `why_none` says why there is none."""
    if run is None:
        return Markdown(f"not run ({_cell(redact(why_none))})" if why_none else "not run")
    return Markdown(f"{'passed' if run.passed else 'failing'} ({_cell(redact(run.outline()))})")


def _cell(text: str, width: int = 200) -> Markdown:
    """Untrusted text on one line of a table cell, inert."""
    line = " ".join(text.split())
    line = line if len(line) <= width else line[: width - 3] + "..."
    return inert(line, in_table=True)


def _quote(text: str) -> Markdown:
    """The model's summary as a block quote, inert, with an exact note when it is cut."""
    text = text.strip()
    if not text:
        return Markdown("")
    note = ""
    if len(text) > MAX_SUMMARY_CHARS:
        note = f"\n\n(summary cut: {len(text) - MAX_SUMMARY_CHARS} characters not shown)"
        text = text[:MAX_SUMMARY_CHARS]
    return Markdown("\n".join("> " + line for line in inert(text + note).splitlines()))
