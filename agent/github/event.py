"""Webhook payloads in, one typed request out: a new comment on a pull request, or the reason to ignore the event."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

HANDLED_EVENTS = ("issue_comment", "pull_request_review_comment")


class Ignored(Exception):
    """The event is not for us; the message says why in one line. Not an error."""


class EventError(Exception):
    """The event file cannot be read or is not a webhook payload of the kind its name says."""


@dataclass(frozen=True)
class ReviewContext:
    """Where a review comment sits in the diff; shown to the model as untrusted context."""

    path: str
    line: int | None
    diff_hunk: str


@dataclass(frozen=True)
class PullComment:
    kind: Literal["issue_comment", "review_comment"]
    repository: str
    """owner/name of the repository the pull request belongs to."""
    number: int
    comment_id: int
    body: str
    author: str
    author_type: str
    """`User` or `Bot`, as GitHub says."""
    association: str
    """The commenter's `author_association` with the repository (OWNER, MEMBER, COLLABORATOR, NONE...)."""
    url: str
    review: ReviewContext | None = None

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]

    @property
    def repo(self) -> str:
        return self.repository.split("/", 1)[1]


def read_event(path: Path) -> dict[str, Any]:
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise EventError(f"cannot read event file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise EventError(f"event file {path} is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise EventError(f"event file {path} does not hold a JSON object")
    return payload


def parse(name: str, payload: dict[str, Any]) -> PullComment:
    """The comment this event carries; raises Ignored for every event that cannot trigger a run."""
    if name not in HANDLED_EVENTS:
        raise Ignored(f"event {name or '(none)'!r} is not handled (only {' and '.join(HANDLED_EVENTS)})")
    action = payload.get("action")
    if action != "created":
        raise Ignored(f"comment was {action or 'changed'}; only new comments trigger a run")
    try:
        if name == "issue_comment":
            return _issue_comment(payload)
        return _review_comment(payload)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise EventError(f"{name} payload is missing or has a malformed field: {exc}") from None


def _issue_comment(payload: dict[str, Any]) -> PullComment:
    issue = payload["issue"]
    if issue.get("pull_request") is None:
        raise Ignored(f"comment is on issue #{issue['number']}, not on a pull request")
    return _comment("issue_comment", payload, int(issue["number"]), None)


def _review_comment(payload: dict[str, Any]) -> PullComment:
    comment = payload["comment"]
    line = comment.get("line") or comment.get("original_line")
    review = ReviewContext(path=str(comment.get("path") or ""), line=int(line) if line else None, diff_hunk=str(comment.get("diff_hunk") or ""))
    return _comment("review_comment", payload, int(payload["pull_request"]["number"]), review)


def _comment(kind: Literal["issue_comment", "review_comment"], payload: dict[str, Any], number: int, review: ReviewContext | None) -> PullComment:
    comment = payload["comment"]
    user = comment["user"]
    repository = str(payload["repository"]["full_name"])
    if repository.count("/") != 1:
        raise ValueError(f"repository.full_name {repository!r} is not owner/name")
    return PullComment(
        kind=kind,
        repository=repository,
        number=number,
        comment_id=int(comment["id"]),
        body=str(comment.get("body") or ""),
        author=str(user["login"]),
        author_type=str(user.get("type") or "User"),
        association=str(comment.get("author_association") or "NONE").upper(),
        url=str(comment.get("html_url") or ""),
        review=review,
    )
