"""A language's test environment as a cached image: its toolchain's setup phase (langsetup.py) with the network on,
committed as `loopwright-env:<key>` with the same machinery as Python's (envimage.py).

The image is the language's sandbox image (`loopwright-sandbox:go`, built by `loopwright sandbox build
--language go`); the key changes with the files that define the environment (go.mod and go.sum, Cargo.toml and
Cargo.lock, the CMakeLists.txt files), the plan's commands and environment, the user's setup commands, the base
image's id and the recipe's version. A plan with nothing to set up starts from the language's image itself.

Public: `prepare_language`, `require_language_image`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import docker.errors
from docker.models.containers import Container

from loopwright.sandboxes.base import SandboxError
from loopwright.sandboxes.envimage import ENV_REPOSITORY, commit_environment, setup_box, stored_report
from loopwright.sandboxes.envreport import Failure, SetupReport
from loopwright.sandboxes.envsetup import SetupFailed
from loopwright.sandboxes.langsetup import finish_language, run_language_setup
from loopwright.sandboxes.toolchains.base import Toolchain, ToolchainPlan
from loopwright.sandboxes.toolchains.registry import language_image


def require_language_image(client, image: str, chain: Toolchain) -> str:
    """The language's sibling of the sandbox image `image`; SandboxError (one line) saying how to build it when missing."""
    tag = language_image(image, chain.language)
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        raise SandboxError(
            f"this is a {chain.title} project and the sandbox image {tag} is not there; run `loopwright sandbox build --language {chain.language}`"
            f" (or build sandboxes/{chain.registry_dockerfile} with a registry)"
        ) from None
    return tag


def prepare_language(
    client,
    root: Path,
    chain: Toolchain,
    *,
    image: str,
    setup_commands: tuple[str, ...],
    timeout_s: float,
    start: Callable[[str], Container],
    storage: int,
    session_id: str,
    progress: Callable[[str], None],
    fresh: bool = False,
    output_limit: int = 64_000,
) -> tuple[str, SetupReport, bool]:
    """(image to start the session from, its report, whether that image lasts only for this session)."""
    started = time.monotonic()
    base = require_language_image(client, image, chain)
    plan = chain.plan(root)
    reason = f"the repository's files say {chain.title}"
    report = SetupReport(
        python="", python_reason=reason, image=base, base_image=base, level="", language=chain.language,
        decisions=plan.decisions, test_command=plan.test_command,
    )
    if not plan.steps and not setup_commands:
        return base, replace(report, cached=True, installed="nothing to fetch"), False
    base_id = client.images.get(base).id
    tag = f"{ENV_REPOSITORY}:{plan.cache_key(base_id, setup_commands)}"
    if not fresh:
        stored = stored_report(client, tag)
        if stored is not None:
            return tag, replace(stored, cached=True, image=tag), False
    else:
        try:
            client.images.remove(tag, force=True)
        except docker.errors.ImageNotFound:
            pass
    progress(f"setting up the project's {chain.title} environment ({tag}, cached for later runs)")
    container = start(base)
    try:
        return _build(client, container, root, plan, report, setup_commands, base, base_id, tag, started, timeout_s, storage, session_id, progress, output_limit)
    finally:
        try:
            container.remove(force=True)
        except docker.errors.APIError:
            pass


def _build(client, container, root, plan: ToolchainPlan, report: SetupReport, setup_commands, base, base_id, tag, started, timeout_s, storage, session_id, progress, output_limit):
    with setup_box(client, container, root, storage, output_limit) as (box, watch, copy, notes):
        try:
            result = run_language_setup(box, plan, copy, setup_commands=setup_commands, deadline=started + timeout_s, progress=progress)
            if not watch.over:
                finish_language(box, session_id)
        except SetupFailed as error:
            reason = f"{watch.over}; nothing of it was kept" if watch.over else str(error)
            return base, replace(report, failures=(Failure("the setup phase", reason),), kept=False, duration_s=time.monotonic() - started), False
        except docker.errors.APIError as error:
            raise SandboxError(f"the setup phase failed: {str(getattr(error, 'explanation', '') or error).splitlines()[0]}") from None
    if watch.over or watch.measure():
        failure = Failure("the setup phase", f"{watch.over}; nothing of it was kept")
        return base, replace(report, failures=(failure,), kept=False, duration_s=time.monotonic() - started), False
    fetched = result.fetched
    report = replace(
        report,
        toolchain=result.toolchain,
        installed=(", ".join(f"`{command}`" for command in fetched) + f" ({len(result.packages)} dependencies)") if fetched else "nothing fetched",
        packages=tuple(result.packages),
        failures=tuple(result.failures),
        setup_commands=tuple(result.commands),
        notes=tuple(notes + result.notes),
        kept=result.keep,
        duration_s=time.monotonic() - started,
        image=tag,
    )
    changes = [f"ENV {key}={value}" for key, value in plan.agent_env.items()]
    return commit_environment(container, report, tag, base_id, changes)
