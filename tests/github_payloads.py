"""Webhook payloads, adapted the way GitHub sends PR comments.

The published examples in ../shared/data/github-webhooks are used where they exist. Where they do not (GitHub-hosted
CI has no ../shared), the comment payloads are built here in the same shape, so the PR bot's tests, its security
tests among them, run wherever the test command runs; only the tests that parse the published files themselves skip.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

WEBHOOKS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "github-webhooks"


REPOSITORY = "Codertocat/Hello-World"
_USER = {"login": "Codertocat", "id": 21031067, "type": "User", "site_admin": False}


def load(name: str) -> dict[str, Any]:
    path = WEBHOOKS / f"{name}.payload.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    if name.startswith("issue_comment_created"):
        return built_issue_comment()
    if name.startswith("pull_request_review_comment_created"):
        return built_review_comment()
    pytest.skip(f"webhook payloads not found at ../shared/data/github-webhooks ({path.name} missing)")


def built_issue_comment(number: int = 1, comment_id: int = 492700400) -> dict[str, Any]:
    """An `issue_comment` `created` payload on issue #number, in the shape GitHub sends (no `pull_request` key yet)."""
    issue_url = f"https://api.github.com/repos/{REPOSITORY}/issues/{number}"
    return {
        "action": "created",
        "issue": {"url": issue_url, "html_url": f"https://github.com/{REPOSITORY}/issues/{number}", "number": number, "title": "Spelling error in the README file", "user": dict(_USER), "state": "open", "locked": False, "comments": 0, "author_association": "OWNER", "body": ""},
        "comment": _comment_fields(comment_id, f"https://github.com/{REPOSITORY}/issues/{number}#issuecomment-{comment_id}") | {"issue_url": issue_url},
        "repository": _repository(),
        "sender": dict(_USER),
    }


def built_review_comment(number: int = 2, comment_id: int = 284312630) -> dict[str, Any]:
    """A `pull_request_review_comment` `created` payload on pull request #number, in the shape GitHub sends."""
    pull_url = f"https://api.github.com/repos/{REPOSITORY}/pulls/{number}"
    review = {"path": "README.md", "position": 1, "original_position": 1, "line": 265, "original_line": 265, "side": "RIGHT", "diff_hunk": "@@ -1 +1 @@\n-# Hello-World", "pull_request_url": pull_url, "commit_id": "ec26c3e57ca3a959ca5aad62de7213c562f8c821"}
    return {
        "action": "created",
        "comment": _comment_fields(comment_id, f"https://github.com/{REPOSITORY}/pull/{number}#discussion_r{comment_id}") | review,
        "pull_request": {"url": pull_url, "html_url": f"https://github.com/{REPOSITORY}/pull/{number}", "number": number, "state": "open", "title": "Update the README with new information.", "user": dict(_USER)},
        "repository": _repository(),
        "sender": dict(_USER),
    }


def _comment_fields(comment_id: int, html_url: str) -> dict[str, Any]:
    return {"id": comment_id, "html_url": html_url, "user": dict(_USER), "created_at": "2019-05-15T15:20:33Z", "updated_at": "2019-05-15T15:20:33Z", "author_association": "OWNER", "body": ""}


def _repository() -> dict[str, Any]:
    owner, name = REPOSITORY.split("/")
    return {"id": 186853002, "name": name, "full_name": REPOSITORY, "private": False, "owner": {"login": owner, "type": "User"}, "default_branch": "master"}


def pr_comment(body: str, *, association: str = "OWNER", login: str | None = None, user_type: str | None = None, variant: str = "issue_comment_created") -> dict[str, Any]:
    """An issue_comment payload turned into a comment on pull request #issue.number (GitHub adds `issue.pull_request`)."""
    return on_pull_request(copy.deepcopy(load(variant)), body, association=association, login=login, user_type=user_type)


def on_pull_request(payload: dict[str, Any], body: str, *, association: str = "OWNER", login: str | None = None, user_type: str | None = None) -> dict[str, Any]:
    """An issue_comment payload made a comment on pull request #issue.number, as GitHub marks those."""
    issue = payload["issue"]
    base = issue["url"].replace("/issues/", "/pulls/")
    issue["pull_request"] = {"url": base, "html_url": issue["html_url"].replace("/issues/", "/pull/"), "diff_url": base + ".diff", "patch_url": base + ".patch", "merged_at": None}
    return _with_comment(payload, body, association, login, user_type)


def review_comment(body: str, *, association: str = "OWNER", variant: str = "pull_request_review_comment_created") -> dict[str, Any]:
    return _with_comment(copy.deepcopy(load(variant)), body, association, None, None)


def _with_comment(payload: dict[str, Any], body: str, association: str, login: str | None, user_type: str | None) -> dict[str, Any]:
    comment = payload["comment"]
    comment["body"] = body
    comment["author_association"] = association
    if login:
        comment["user"]["login"] = login
    if user_type:
        comment["user"]["type"] = user_type
    return payload
