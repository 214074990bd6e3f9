"""Who may start a run. Checked in two stages: before anything is fetched, and once the pull request is known."""

from __future__ import annotations

from loopwright.github.event import PullComment
from loopwright.github.rest import PullRequest
from loopwright.github.settings import REPLY_MARKER, ActionSettings


def never_triggers(comment: PullComment, settings: ActionSettings) -> str | None:
    """Why a comment cannot start a run whoever wrote it (bots, our own replies); None when it may."""
    if comment.author_type.lower() == "bot" or comment.author.lower().endswith("[bot]"):
        return f"comment by bot {comment.author}; bots never trigger a run"
    if comment.author.lower() == settings.bot_login.lower():
        return f"comment by {comment.author}, the account loopwright replies as"
    if REPLY_MARKER in comment.body:
        return "comment is a loopwright reply"
    return None


def refusal(comment: PullComment, pull: PullRequest, settings: ActionSettings) -> str | None:
    """Why this commenter may not run loopwright on this pull request; None when they may."""
    if comment.association not in settings.allowed_associations:
        allowed = ", ".join(settings.allowed_associations) or "nobody"
        return f"@{comment.author} is {comment.association} on {comment.repository}; runs are open to {allowed}."
    gone = closed(pull)
    if gone:
        return gone
    if pull.from_fork and not settings.allow_forks:
        source = pull.head_repository or "a deleted repository"
        return f"pull request #{pull.number} comes from the fork {source}; runs on forks are turned off (allow_forks)."
    return None


def closed(pull: PullRequest) -> str | None:
    """Why nothing may be pushed to this pull request any more; None while it is open.

    Checked when the run starts and again, on a fresh copy from the API, right before pushing.
    """
    if pull.state == "open":
        return None
    return f"pull request #{pull.number} is {'merged' if pull.merged else 'closed'}; loopwright pushes only to open pull requests."
