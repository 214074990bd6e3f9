"""The published webhook payloads from ../shared/data/github-webhooks, adapted the way GitHub sends PR comments."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

WEBHOOKS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "github-webhooks"


def load(name: str) -> dict[str, Any]:
    path = WEBHOOKS / f"{name}.payload.json"
    if not path.is_file():
        pytest.skip(f"webhook payloads not found at ../shared/data/github-webhooks ({path.name} missing)")
    return json.loads(path.read_text(encoding="utf-8"))


def pr_comment(body: str, *, association: str = "OWNER", login: str | None = None, user_type: str | None = None, variant: str = "issue_comment_created") -> dict[str, Any]:
    """An issue_comment payload turned into a comment on pull request #issue.number (GitHub adds `issue.pull_request`)."""
    payload = copy.deepcopy(load(variant))
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
