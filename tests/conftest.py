"""Fixtures shared across test modules."""

from __future__ import annotations

import os
import signal

import pytest
from hypothesis import settings

from loopwright.sandboxes.base import SandboxError

# The same examples on every run: a property test that found nothing yesterday must not fail CI today on a
# new random draw (widen the search on purpose with --hypothesis-seed or a larger max_examples).
settings.register_profile("deterministic", derandomize=True, database=None)
settings.load_profile("deterministic")

# A suite started in the background by a non-interactive shell inherits SIGINT ignored, and so would every
# process it starts: the tests of Ctrl-C would then test nothing. A handler (unlike SIG_IGN) is not inherited
# across exec, so the children start with the default again.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def private_state(tmp_path_factory, monkeypatch):
    """Each test keeps loopwright's host state (trajectories, caches, the sandbox registry) in a folder of its own."""
    from loopwright import gittrust

    monkeypatch.setenv("LOOPWRIGHT_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    # As in a new process: no repository pinned yet.
    monkeypatch.setattr(gittrust, "_pinned", {})


@pytest.fixture(scope="session")
def docker_client():
    """A client for the Docker engine; skips the test when no engine answers."""
    from loopwright.sandboxes.docker import connect

    try:
        client = connect(timeout=30)
    except SandboxError as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Docker tests: {error}")
        pytest.skip(str(error))
    yield client
    client.close()


@pytest.fixture(scope="session")
def sandbox_image(docker_client) -> str:
    """The default sandbox image, built once (offline, needs root) when the engine lacks it."""
    from loopwright.sandboxes.image import DEFAULT_IMAGE, build_image, image_exists

    if not image_exists(DEFAULT_IMAGE):
        build_image(DEFAULT_IMAGE)
    return DEFAULT_IMAGE
