"""The few GitHub REST endpoints the action uses, over httpx. The base URL comes from GITHUB_API_URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from loopwright.github.event import PullComment

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"


class GitHubError(Exception):
    """A REST call failed; the message is one line (method, path, status, GitHub's message)."""


@dataclass(frozen=True)
class PullRequest:
    number: int
    title: str
    base_ref: str
    base_repository: str
    base_clone_url: str
    head_ref: str
    head_sha: str
    head_repository: str | None
    """owner/name of the head's repository; None when the fork was deleted."""
    head_clone_url: str | None
    state: str = "open"
    """`open` or `closed`, as the API said when this was fetched."""
    merged: bool = False

    @property
    def from_fork(self) -> bool:
        return self.head_repository is None or self.head_repository.lower() != self.base_repository.lower()

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> PullRequest:
        try:
            base, head = data["base"], data["head"]
            head_repo = head.get("repo") or None
            return cls(
                number=int(data["number"]),
                title=str(data.get("title") or ""),
                base_ref=str(base["ref"]),
                base_repository=str(base["repo"]["full_name"]),
                base_clone_url=str(base["repo"]["clone_url"]),
                head_ref=str(head["ref"]),
                head_sha=str(head["sha"]),
                head_repository=str(head_repo["full_name"]) if head_repo else None,
                head_clone_url=str(head_repo["clone_url"]) if head_repo else None,
                state=str(data["state"]),
                merged=bool(data.get("merged") or data.get("merged_at")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise GitHubError(f"pull request #{data.get('number', '?')}: unexpected response, missing {exc}") from None


class GitHub:
    def __init__(self, token: str | None, api_url: str | None = None, *, timeout_s: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION, "User-Agent": "loopwright"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(base_url=(api_url or DEFAULT_API_URL).rstrip("/"), headers=headers, timeout=timeout_s, transport=transport)

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def pull_request(self, repository: str, number: int) -> PullRequest:
        return PullRequest.from_api(self._call("GET", f"/repos/{repository}/pulls/{number}"))

    def react(self, comment: PullComment, content: str) -> None:
        """Add a reaction (`eyes`, `rocket`, `confused`, ...) to the comment."""
        kind = "issues" if comment.kind == "issue_comment" else "pulls"
        self._call("POST", f"/repos/{comment.repository}/{kind}/comments/{comment.comment_id}/reactions", {"content": content})

    def reply(self, comment: PullComment, body: str) -> str:
        """Answer the comment: in its review thread for a review comment, on the conversation otherwise. Returns the reply's URL."""
        if comment.kind == "review_comment":
            path = f"/repos/{comment.repository}/pulls/{comment.number}/comments/{comment.comment_id}/replies"
        else:
            path = f"/repos/{comment.repository}/issues/{comment.number}/comments"
        return str(self._call("POST", path, {"body": body}).get("html_url", ""))

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self._client.request(method, path, json=payload)
        except httpx.HTTPError as exc:
            raise GitHubError(f"GitHub API {method} {path}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            raise GitHubError(f"GitHub API {method} {path}: HTTP {response.status_code} {_message(response)}")
        if not response.content:
            return {}
        try:
            data = response.json()
        except ValueError:
            raise GitHubError(f"GitHub API {method} {path}: response is not JSON") from None
        return data if isinstance(data, dict) else {"items": data}


def _message(response: httpx.Response) -> str:
    try:
        message = response.json().get("message", "")
    except (ValueError, AttributeError):
        message = response.text[:200]
    return " ".join(str(message).split())
