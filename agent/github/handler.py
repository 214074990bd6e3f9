"""The outer loop, top to bottom: check who asked, sanitize the request, run the core unattended, always reply.

    event -> never-trigger checks -> trigger phrase -> pull request -> base branch config -> access
          -> react -> check out head -> run in the sandbox -> commit + push (if still open) -> reply

Once a run is accepted every way out posts a reply: a summary, or the reason it failed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx

from loopwright.github import access, report, settings as settings_module
from loopwright.github.event import Ignored, PullComment, parse
from loopwright.github.gitops import Checkout, GitOpsError, Identity
from loopwright.github.redact import Redactor, secret_values
from loopwright.github.rest import GitHub, GitHubError, PullRequest
from loopwright.github.runner import RunOutcome, run_agent
from loopwright.github.sanitize import request_after_trigger
from loopwright.github.settings import CONFIG_FILE, INSTRUCTIONS_FILE, ActionSettings, ActionSettingsError
from loopwright.model import Model
from loopwright.trajectory import PullRun


class ModelFactory(Protocol):
    def __call__(self, spec: str | None, *, tool_mode: str | None = None) -> Model:
        """The model for `spec` (None: the default for the keys present), its tool calls sent the `tool_mode` way."""
        ...


BASE_REF = "refs/remotes/origin/{branch}"
HEAD_REF = "refs/remotes/pull/head"
MODEL_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")


class RunFailure(Exception):
    """The run cannot go on; the message is the reason given in the reply."""


@dataclass(frozen=True)
class Outcome:
    status: Literal["ignored", "refused", "done", "stopped", "failed"]
    message: str
    """One line for the log, already redacted."""
    commit: str | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.status in ("stopped", "failed") else 0


@dataclass
class Context:
    """Everything one accepted comment's handling needs, so the steps below stay small."""

    comment: PullComment
    request: str
    env: Mapping[str, str]
    gh: GitHub
    redact: Redactor
    token: str | None
    workspace: Path
    trajectory_dir: Path | None
    pull: PullRequest | None = None
    """Known once fetched; the failure reply names its branch."""


def handle(
    event_name: str,
    payload: dict[str, Any],
    env: Mapping[str, str],
    build_model: ModelFactory,
    *,
    trajectory_dir: Path | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Outcome:
    try:
        comment = parse(event_name, payload)
    except Ignored as exc:
        return Outcome("ignored", str(exc))
    early = settings_module.load(env)
    reason = access.never_triggers(comment, early)
    if reason:
        return Outcome("ignored", reason)
    request = request_after_trigger(comment.body, early.trigger)
    if request is None:
        return Outcome("ignored", f"comment does not start with {early.trigger}")
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or None
    redact = Redactor(secret_values(env))
    with GitHub(token, env.get("GITHUB_API_URL"), transport=transport) as gh, tempfile.TemporaryDirectory(prefix="loopwright-pr-") as tmp:
        ctx = Context(comment, request, env, gh, redact, token, Path(tmp), trajectory_dir)
        try:
            return _accept_and_run(ctx, build_model)
        except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - an accepted comment always gets a reply
            return _fail(ctx, _reason(exc))


def _accept_and_run(ctx: Context, build_model: ModelFactory) -> Outcome:
    comment = ctx.comment
    pull = ctx.pull = ctx.gh.pull_request(comment.repository, comment.number)
    checkout = Checkout.create(ctx.workspace, ctx.token)
    base_ref = BASE_REF.format(branch=pull.base_ref)
    checkout.fetch(pull.base_clone_url, pull.base_ref, base_ref)
    trusted = settings_module.load(ctx.env, checkout.show(base_ref, CONFIG_FILE))
    refused = access.refusal(comment, pull, trusted) or (None if ctx.request else f"the comment has no request after {trusted.trigger}.")
    if refused:
        ctx.gh.reply(comment, report.refusal_reply(refused, ctx.redact))
        return Outcome("refused", ctx.redact(refused))
    ctx.gh.react(comment, "eyes")
    head_url = pull.head_clone_url if pull.from_fork else pull.base_clone_url
    if not head_url:
        raise RunFailure("the pull request's head repository no longer exists")
    checkout.fetch(head_url, pull.head_ref, HEAD_REF)
    if not checkout.has_commit(pull.head_sha):
        raise RunFailure(f"the head commit {pull.head_sha[:12]} is no longer on {pull.head_ref}")
    checkout.check_out(pull.head_sha)
    instructions = (checkout.show(base_ref, INSTRUCTIONS_FILE) or "").strip()
    if trusted.model is None and not any(ctx.env.get(name) for name in MODEL_KEYS):
        # Without this the default would be a local model server started on the runner.
        raise RunFailure(f"no model configured: set the action's `model` input, `model` in {CONFIG_FILE} on {pull.base_ref}, or an API key")
    model = build_model(trusted.model, tool_mode=trusted.tool_mode)
    task = report.task_text(comment, pull, ctx.request)
    outcome = run_agent(task, checkout.workdir, trusted, model, instructions, ctx.trajectory_dir, _pull_run(ctx, pull), redact=ctx.redact)
    return _deliver(ctx, checkout, pull, trusted, outcome, head_url)


def _deliver(ctx: Context, checkout: Checkout, pull: PullRequest, trusted: ActionSettings, outcome: RunOutcome, head_url: str) -> Outcome:
    result = outcome.summary
    changed = checkout.stage_all()
    diffstat, diff = checkout.staged_diff() if changed else ("", "")
    commit = None
    finished = result.reason == "submitted"
    if changed and finished:
        if ctx.redact.leaks(diff):
            raise RunFailure("the change contains a secret value from the runner's environment; it was not pushed")
        message = report.commit_message(ctx.comment, ctx.request, ctx.redact)
        commit = checkout.commit(message, Identity(trusted.commit_author, trusted.commit_email))
        # The pull request may have been closed or merged while the agent worked.
        gone = access.closed(ctx.gh.pull_request(ctx.comment.repository, ctx.comment.number))
        if gone:
            ctx.gh.reply(ctx.comment, report.refusal_reply(gone, ctx.redact))
            return Outcome("refused", ctx.redact(f"{gone} Nothing was pushed."))
        checkout.push(head_url, pull.head_ref)
        outcome.note_pushed(commit)
    delivery = report.Delivery(branch=pull.head_ref, commit=commit, diffstat=diffstat, diff=diff)
    pickup = report.Pickup(outcome.trajectory.name, report.WorkflowRun.from_env(ctx.env)) if outcome.trajectory else None
    ctx.gh.reply(ctx.comment, report.success_reply(result, outcome.tests_before, delivery, ctx.request, ctx.redact, pickup))
    if not finished:
        ctx.gh.react(ctx.comment, "confused")
        return Outcome("stopped", ctx.redact(f"run stopped ({result.reason}: {result.detail}); nothing pushed"))
    pushed = f"pushed {commit[:12]} to {pull.head_ref}" if commit else "no changes, nothing pushed"
    tests = {True: "passed", False: "failing", None: "not run"}[result.tests_passed]
    return Outcome("done", ctx.redact(f"{pushed}; tests after: {tests}"), commit)


def _pull_run(ctx: Context, pull: PullRequest) -> PullRun:
    """What the trajectory records of the pull request, for `loopwright resume`."""
    return PullRun(
        repository=pull.base_repository,
        clone_url=pull.base_clone_url,
        number=pull.number,
        base_ref=pull.base_ref,
        head_ref=pull.head_ref,
        head_repository=pull.head_repository,
        head_sha=pull.head_sha,
        request=ctx.request,
        run_url=run.url if (run := report.WorkflowRun.from_env(ctx.env)) else "",
    )


def _fail(ctx: Context, reason: str) -> Outcome:
    """Tell the pull request why the run failed; a reply that cannot be posted is part of the logged reason."""
    reason = ctx.redact(reason)
    branch = ctx.pull.head_ref if ctx.pull else "the pull request's branch"
    try:
        ctx.gh.reply(ctx.comment, report.failure_reply(ctx.comment, branch, reason, ctx.redact))
        ctx.gh.react(ctx.comment, "confused")
    except GitHubError as exc:
        reason = f"{reason} (and the failure reply could not be posted: {ctx.redact(str(exc))})"
    return Outcome("failed", reason)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "the run was interrupted (time limit or cancelled workflow)"
    if isinstance(exc, (GitOpsError, GitHubError, ActionSettingsError, RunFailure)):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
