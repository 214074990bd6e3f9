"""What the container tests of the languages share: their marker, their images built once when missing, a
sandbox per repository with its environment image removed afterwards, and a run of the detected test command."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from collections.abc import Callable

import docker.errors
import pytest

from loopwright.sandboxes.docker import DockerSandbox
from loopwright.testdetect import detect
from loopwright.tools.base import ToolContext
from loopwright.tools.run_tests import run_test_command
from loopwright.tools.testreport import TestReport


def language_test(function):
    return pytest.mark.docker(pytest.mark.slow(function))


def ensure_images(docker_client, languages: tuple[str, ...]) -> None:
    """Build those of the languages' images the engine lacks (side by side, on the trixie root filesystem)."""
    from loopwright.sandboxes.langimage import build_language_images, language_tag

    missing = []
    for language in languages:
        try:
            docker_client.images.get(language_tag(language))
        except docker.errors.ImageNotFound:
            missing.append(language)
    if missing:
        build_language_images(missing)


def open_boxes(docker_client) -> Iterator[Callable[[Path], DockerSandbox]]:
    """For a fixture: opens a sandbox with a fresh environment per repository; closes them all and removes their
    environment images afterwards."""
    opened: list[DockerSandbox] = []

    def open_one(root: Path) -> DockerSandbox:
        box = DockerSandbox(root, fresh_environment=True, setup_timeout_s=600)
        opened.append(box)
        return box

    yield open_one
    for box in opened:
        box.close()
        if box.setup_report is not None and box.setup_report.image.startswith("loopwright-env:"):
            try:
                docker_client.images.remove(box.setup_report.image, force=True)
            except docker.errors.ImageNotFound:
                pass


def run(root: Path, box: DockerSandbox) -> TestReport:
    return run_test_command(ToolContext(root=root, sandbox=box, test_command=detect(root), test_timeout_s=600))
