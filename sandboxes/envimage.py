"""A project's test environment as a cached image: the setup phase with network, its result kept for later sessions.

`prepare` chooses the Python (pyversions.py) among the sandbox images, makes the plan (envplan.py),
and looks for the image `loopwright-env:<key>`, whose key changes with everything that defines it
(the dependency-defining files' contents, the setup commands, the Python, the base image's id and
the recipe's version). When it is missing, the setup phase runs in a networked container holding a
copy of the repository (workcopy.py, envsetup.py), and the container is committed as that image with
the report as a label. An install that fails is not fatal: the report says what failed and the session
goes on with what could be installed, or with the base image when nothing could.

Public: `prepare`, `python_candidates`, `choose_python`, `image_python`, `stored_report`, `setup_box`, `commit_environment`,
ENV_REPOSITORY (a language's environment, langenv.py, is made with the same setup box and commit).
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import docker.errors
from docker.models.containers import Container

from loopwright.sandboxes.base import OutputCap, SandboxError
from loopwright.sandboxes.docker_exec import run_exec
from loopwright.sandboxes.envplan import NOTHING, EnvPlan, is_python_project, make_plan, resolution_date
from loopwright.sandboxes.envreport import Failure, SetupReport
from loopwright.sandboxes.envsetup import VENV, SetupContainer, SetupFailed, finish, run_setup
from loopwright.sandboxes.project import read_project
from loopwright.sandboxes.pyversions import Candidate, PythonChoice, PythonChoiceError, PythonHints, choose, parse_version, read_hints, settled, show
from loopwright.sandboxes.storage import show_size
from loopwright.sandboxes.workcopy import write_archive

ENV_REPOSITORY = "loopwright-env"
KEY_LABEL = "loopwright.env"
REPORT_LABEL = "loopwright.setup-report"
PYTHON_LABEL = "loopwright.python"
BASE_LABEL = "loopwright.base"
"""On an environment image: the id of the sandbox image it was built on."""
LAYER_CHECK_EVERY_S = 2.0
"""How often the size of the setup container's own layer is asked of the engine (it walks the layer)."""
_PY_TAG = re.compile(r":py(\d+\.\d+)$")
_probed: dict[str, str] = {}


def image_python(client, image: str) -> str:
    """The Python (major.minor) of a sandbox image: its label, else asked of the image once per process."""
    found = client.images.get(image)
    label = (found.labels or {}).get(PYTHON_LABEL, "")
    if parse_version(label):
        return label
    if found.id not in _probed:
        try:
            output = client.containers.run(
                found.id, ["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                remove=True, network_mode="none", cap_drop=["ALL"], security_opt=["no-new-privileges"],
            )
            _probed[found.id] = output.decode(errors="replace").strip()
        except docker.errors.DockerException:
            _probed[found.id] = ""
    return _probed[found.id]


def python_candidates(client, image: str) -> list[Candidate]:
    """`image` and its siblings tagged by Python (`<repository>:py3.9`), one per Python version."""
    found: dict[str, Candidate] = {}
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    for listed in client.images.list(name=repository):
        for tag in listed.tags:
            match = _PY_TAG.search(tag)
            if tag.rsplit(":", 1)[0] == repository and match:
                version = (listed.labels or {}).get(PYTHON_LABEL) or match.group(1)
                found.setdefault(version, Candidate(version, tag))
    try:
        own = image_python(client, image)
    except docker.errors.ImageNotFound:
        own = ""
    if own:
        found[own] = Candidate(own, image)
    return sorted(found.values(), key=lambda c: c.key)


def choose_python(client, root: Path, image: str, requested: str | None, commit_date: str = "") -> tuple[PythonChoice, PythonHints]:
    """The sandbox image with the project's Python; SandboxError (one line) when the asked one cannot be had."""
    hints = read_hints(root, read_project(root))
    candidates = python_candidates(client, image)
    if not candidates:
        raise SandboxError(f"sandbox image {image} not found; run `loopwright sandbox build`")
    try:
        return choose(candidates, hints, requested, commit_date), hints
    except PythonChoiceError as error:
        raise SandboxError(str(error)) from None


def stored_report(client, tag: str) -> SetupReport | None:
    try:
        labels = client.images.get(tag).labels or {}
    except docker.errors.ImageNotFound:
        return None
    return SetupReport.from_json(labels.get(REPORT_LABEL, ""))


def prepare(
    client,
    root: Path,
    *,
    image: str,
    python: str | None,
    setup_commands: tuple[str, ...],
    timeout_s: float,
    start: Callable[[str], Container],
    storage: int,
    session_id: str,
    progress: Callable[[str], None],
    fresh: bool = False,
    commit_date: str = "",
    output_limit: int = 64_000,
) -> tuple[str, SetupReport, bool]:
    """(image to start the session from, its report, whether that image lasts only for this session)."""
    started = time.monotonic()
    choice, hints = choose_python(client, root, image, python, commit_date)
    base = choice.candidate.image
    decisions = tuple(hints.notes)
    if not is_python_project(root) and not setup_commands:
        report = SetupReport(
            python=image_python(client, base), python_reason=choice.reason, image=base, base_image=base, level=NOTHING,
            decisions=(*decisions, "no dependency files: the image's own Python and pytest are used"), cached=True,
        )
        return base, report, False
    as_of = resolution_date(commit_date)
    plan = make_plan(root, show(choice.candidate.key), setup_commands, as_of=as_of, as_of_python=settled(choice.candidate.key))
    base_id = client.images.get(base).id
    tag = f"{ENV_REPOSITORY}:{plan.cache_key(base_id, choice.candidate.version)}"
    if not fresh:
        stored = stored_report(client, tag)
        if stored is not None:
            return tag, replace(stored, cached=True, image=tag), False
    elif _exists(client, tag):
        client.images.remove(tag, force=True)
    progress(f"setting up the project's environment on Python {choice.candidate.version} ({tag}, cached for later runs)")
    report = SetupReport(
        python=choice.candidate.version, python_reason=choice.reason, image=tag, base_image=base, level=NOTHING,
        decisions=(*decisions, *plan.decisions), notes=(), venv=VENV,
    )
    container = start(base)
    try:
        return _build(client, container, root, plan, report, base, base_id, tag, started + timeout_s, storage, session_id, progress, output_limit, started)
    finally:
        try:
            container.remove(force=True)
        except docker.errors.APIError:
            pass


@contextmanager
def setup_box(client, container, root: Path, storage: int, output_limit: int) -> Iterator[tuple[SetupContainer, _LayerWatch, BinaryIO, list[str]]]:
    """The setup container as `SetupContainer`, its layer watched, with the tar of the repository to copy in
    and the notes on what the copy left out. Every setup phase (Python's, a language's) runs through this."""
    with tempfile.TemporaryFile(prefix="loopwright-copy-") as copy:
        notes = write_archive(root, copy, "workspace")
        copy_size = copy.tell()
        copy.seek(0)
        watch = _LayerWatch(client.api, container.id, storage + 2 * copy_size)

        def run(command: str, timeout_s: float, env: dict[str, str] | None):
            if watch.over:
                raise SetupFailed(watch.over)  # past the limit nothing more is worth running
            return run_exec(client.api, container.id, command, timeout_s=max(1.0, timeout_s), env=env, cap=OutputCap(output_limit), watch=watch)

        yield SetupContainer(run=run, put=lambda folder, data: container.put_archive(folder, data)), watch, copy, notes


def commit_environment(container, report: SetupReport, tag: str, base_id: str, changes: list[str]) -> tuple[str, SetupReport, bool]:
    """The setup container as the environment image: `tag` when the report says to keep it, else an untagged image for
    this session only. The report goes along as a label, so a cached environment reports the same."""
    repository, _, key = tag.partition(":")
    changes = [*changes, f"LABEL {KEY_LABEL}={key}", f"LABEL {BASE_LABEL}={base_id}", f"LABEL {REPORT_LABEL}={_label_value(report.to_json())}"]
    if report.kept:
        container.commit(repository=repository, tag=key, changes=changes)
        return tag, report, False
    image = container.commit(changes=changes)
    return image.id, replace(report, image=image.id), True


def _build(client, container, root, plan: EnvPlan, report: SetupReport, base, base_id, tag, deadline, storage, session_id, progress, output_limit, started):
    with setup_box(client, container, root, storage, output_limit) as (box, watch, copy, notes):
        try:
            result = run_setup(box, plan, copy, deadline=deadline, progress=progress)
            if result.usable and not watch.over:
                finish(box, session_id)
        except SetupFailed as error:
            reason = f"{watch.over}; nothing of it was kept" if watch.over else str(error)
            return base, replace(report, failures=(Failure("the setup phase", reason),), image=base, venv="", kept=False, duration_s=time.monotonic() - started), False
        except docker.errors.APIError as error:
            raise SandboxError(f"the setup phase failed: {str(getattr(error, 'explanation', '') or error).splitlines()[0]}") from None
    if watch.over or watch.measure():
        # Installs the limit stopped failed because of it: the limit is the one cause to report.
        result.failures = [Failure("the setup phase", f"{watch.over}; nothing of it was kept")]
        result.usable, result.keep = False, False
    report = replace(
        report,
        python=result.python or report.python,
        level=result.level if result.usable else NOTHING,
        installed=result.installed if result.usable else "",
        packages=tuple(result.packages),
        failures=tuple(result.failures),
        setup_commands=tuple(result.commands),
        resolved_as_of=result.resolved_as_of,
        resolved_why=(
            f"the first versions with wheels for Python {'.'.join(result.python.split('.')[:2])}: those of the commit's time did not install on it"
            if result.resolved_as_of and result.resolved_as_of == plan.as_of_python
            else report.resolved_why
        ),
        installer=result.installer,
        collected=result.collected,
        collection_errors=result.collection_errors,
        notes=tuple(notes + result.notes),
        kept=result.keep and result.usable,
        duration_s=time.monotonic() - started,
    )
    if not result.usable:
        return base, replace(report, image=base, venv="", kept=False), False
    base_path = _base_path(client, base)
    changes = [f"ENV VIRTUAL_ENV={VENV}", f"ENV PATH={VENV}/bin:{base_path}", f"LABEL {PYTHON_LABEL}={'.'.join(report.python.split('.')[:2])}"]
    return commit_environment(container, report, tag, base_id, changes)


def _base_path(client, image: str) -> str:
    for item in client.images.get(image).attrs.get("Config", {}).get("Env") or []:
        if item.startswith("PATH="):
            return item[5:]
    return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _label_value(text: str) -> str:
    """A Dockerfile LABEL value: JSON in double quotes, with backslashes and quotes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _exists(client, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


class _LayerWatch:
    """Watch for the setup container: says when its own layer outgrows the limit."""

    def __init__(self, api, container_id: str, limit: int) -> None:
        self._api = api
        self._id = container_id
        self._limit = limit
        self._next = 0.0
        self.over: str | None = None

    def __call__(self) -> str | None:
        """The check as a running command's watch: at most every LAYER_CHECK_EVERY_S."""
        if time.monotonic() >= self._next:
            self.measure()
            self._next = time.monotonic() + LAYER_CHECK_EVERY_S
        return self.over

    def measure(self) -> str | None:
        listed = self._api.containers(all=True, size=True, filters={"id": self._id})
        written = (listed[0].get("SizeRw") or 0) if listed else 0
        if written > self._limit:
            self.over = f"the setup phase wrote {show_size(written)}, over the storage limit of {show_size(self._limit)}"
        return self.over
