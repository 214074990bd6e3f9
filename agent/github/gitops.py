"""Every git operation of the action, through gitpython: fetch, check out, read the base branch, commit, push.

The repository's git directory lives OUTSIDE the work tree the sandbox sees. Whatever the agent
writes into the work tree (a `.git` file, hooks, config with `core.fsmonitor`) is therefore never
read by git on the runner, which holds the token. The token reaches git only through environment
variables of the fetch and push commands (an HTTP header), never through a file or a URL.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import git

from loopwright import gittrust

TRUSTED_CONFIG = {
    # Hooks and the fsmonitor would run programs on the runner; nothing of the PR may choose them.
    "core.hooksPath": os.devnull,
    "core.fsmonitor": "false",
    "core.autocrlf": "false",
    "commit.gpgSign": "false",
    "protocol.ext.allow": "never",
}


class GitOpsError(Exception):
    """A git step failed; the message is one line without credentials."""


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


@dataclass
class Checkout:
    gitdir: Path
    workdir: Path
    token: str | None = None
    _cmd: git.Git = field(init=False, repr=False)

    @classmethod
    def create(cls, into: Path, token: str | None = None) -> Checkout:
        gitdir, workdir = into / "git", into / "work"
        workdir.mkdir(parents=True)
        git.Repo.init(gitdir, bare=True)
        checkout = cls(gitdir=gitdir.resolve(), workdir=workdir.resolve(), token=token)
        # Commands run in the work tree; GIT_DIR (set on every call) says where the repository is.
        checkout._cmd = git.Git(checkout.workdir)
        checkout._git("config", "core.bare", "false")
        exclude = checkout.gitdir / "info" / "exclude"
        exclude.parent.mkdir(exist_ok=True)
        # Run records and caches the test command may leave are never part of the change.
        exclude.write_text(".loopwright/\n__pycache__/\n*.pyc\n.pytest_cache/\n", encoding="utf-8")
        return checkout

    def fetch(self, url: str, branch: str, as_ref: str) -> str:
        """Fetch `branch` from `url` into `as_ref`; returns the fetched commit."""
        self._git("fetch", "--no-tags", "--quiet", url, f"+refs/heads/{branch}:{as_ref}", auth=True)
        return self._git("rev-parse", f"{as_ref}^{{commit}}")

    def has_commit(self, sha: str) -> bool:
        try:
            self._git("cat-file", "-e", f"{sha}^{{commit}}")
            return True
        except GitOpsError:
            return False

    def show(self, ref: str, path: str) -> str | None:
        """A file's text at `ref` (e.g. the base branch), or None where it does not exist there."""
        try:
            return self._git("show", f"{ref}:{path}", strip=False)
        except GitOpsError:
            return None

    def check_out(self, sha: str) -> None:
        self._git("checkout", "--force", "--quiet", "--detach", sha)

    def stage_all(self) -> list[str]:
        """Stage every change in the work tree; returns the changed paths."""
        self._git("add", "--all", *gittrust.add_all_pathspec(self._git("ls-files", "--stage", "-z", strip=False)))
        names = self._git("diff", "--cached", "--name-only", "-z", strip=False)
        return [name for name in names.split("\0") if name]

    def staged_diff(self) -> tuple[str, str]:
        """(diffstat, full diff) of what is staged."""
        return self._git("diff", "--cached", "--stat=100"), self._git("diff", "--cached", "--no-color", "--no-ext-diff", strip=False)

    def commit(self, message: str, author: Identity) -> str:
        identity = {"GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email, "GIT_COMMITTER_NAME": author.name, "GIT_COMMITTER_EMAIL": author.email}
        message_file = self.gitdir / "LOOPWRIGHT_COMMIT_MSG"
        message_file.write_text(message, encoding="utf-8")
        self._git("commit", "--quiet", "--no-verify", "--cleanup=verbatim", "-F", str(message_file), extra_env=identity)
        return self._git("rev-parse", "HEAD")

    def push(self, url: str, branch: str) -> None:
        """Fast-forward `branch` on `url` to HEAD; refuses to overwrite commits pushed meanwhile."""
        self._git("push", "--quiet", "--no-verify", url, f"HEAD:refs/heads/{branch}", auth=True)

    def _git(self, *args: str, auth: bool = False, strip: bool = True, extra_env: Mapping[str, str] | None = None) -> str:
        env = {**self._environment(auth), **(extra_env or {})}
        try:
            output = self._cmd.execute(["git", *args], env=env, strip_newline_in_stdout=strip)
        except git.GitCommandError as exc:
            raise GitOpsError(self._describe(args, exc)) from None
        return str(output)

    def _environment(self, auth: bool) -> dict[str, str]:
        config = dict(TRUSTED_CONFIG)
        if auth and self.token:
            basic = base64.b64encode(f"x-access-token:{self.token}".encode()).decode()
            config["http.extraHeader"] = f"Authorization: basic {basic}"
        env = {"GIT_DIR": str(self.gitdir), "GIT_WORK_TREE": str(self.workdir), "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_COUNT": str(len(config))}
        for index, (key, value) in enumerate(config.items()):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
        return env

    def _describe(self, args: tuple[str, ...], exc: git.GitCommandError) -> str:
        stderr = exc.stderr if isinstance(exc.stderr, str) else str(exc.stderr or "")
        lines = [line.strip() for line in stderr.replace("stderr:", "").strip(" '\n").splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit code {exc.status}"
        if self.token:
            detail = detail.replace(self.token, "***")
        return f"git {args[0]} failed: {detail}"

