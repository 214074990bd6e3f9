"""Fixtures of the security tests: each attack runs on every container runtime the sandbox offers.

Like the Docker engine itself (tests/conftest.py), a runtime the engine lacks skips its tests on a
developer's machine and fails them under CI, which installs and registers gVisor (`.ci/run`).
"""

from __future__ import annotations

import os

import pytest

RUNTIMES = ["runc", "runsc"]


@pytest.fixture(scope="session")
def registered_runtimes(docker_client) -> set[str]:
    return set(docker_client.info().get("Runtimes") or {})


@pytest.fixture(params=RUNTIMES, ids=RUNTIMES)
def runtime(request, registered_runtimes) -> str:
    """The container runtime a test runs on: runc, then runsc (gVisor)."""
    name = request.param
    if name not in registered_runtimes:
        reason = f"the Docker engine has no {name} runtime registered (.ci/run installs and registers it)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the security tests on {name}: {reason}")
        pytest.skip(reason)
    return name


@pytest.fixture
def make_sandbox(runtime, sandbox_image):
    """Builds DockerSandboxes on the test's runtime (dependency install off unless asked); closes them after."""
    from loopwright.sandboxes.docker import DockerSandbox

    boxes: list[DockerSandbox] = []

    def make(root, **options) -> DockerSandbox:
        options.setdefault("install_dependencies", False)
        box = DockerSandbox(root, image=sandbox_image, runtime=runtime, **options)
        boxes.append(box)
        return box

    yield make
    for box in boxes:
        box.close()
