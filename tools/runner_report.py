"""The test runner's own account of a run: loopwright's pytest plugin, put in the sandbox for one test run
and its JSON document read back.

Nothing of this touches the repository: the plugin goes into a private folder of the sandbox's /tmp,
reaches pytest through PYTHONPATH and PYTEST_ADDOPTS, and the folder is removed after the run. What comes
back was written by code the project controls, so it is hostile input: read in bounded pieces, size-capped,
validated by the models below and used for nothing but display and the pass/fail verdict.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loopwright.sandboxes.base import Sandbox, SandboxError

PLUGIN = "loopwright_pytest_report"
SCHEMA = "loopwright.pytest-report/1"
MAX_REPORT_BYTES = 8 << 20
"""All documents of one run together; a larger account is not read (the run falls back to the exit code)."""
MAX_DOCUMENTS = 16
"""One per pytest session the test command started (`pytest a && pytest b` writes two)."""
SERVICE_TIMEOUT_S = 30.0
_DOCUMENT_NAME = re.compile(r"report-\d{1,10}\.json")

Outcome = Literal["passed", "failed", "error", "skipped", "xfailed", "xpassed"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Location(_Model):
    path: str = Field(max_length=4_000)
    line: int = Field(ge=0)


class Frame(_Model):
    path: str = Field(max_length=4_000)
    line: int = Field(ge=0)
    function: str = Field(max_length=1_000)
    source: str = Field("", max_length=1_000)


class TestResult(_Model):
    nodeid: str = Field(max_length=4_000)
    outcome: Outcome
    phase: Literal["setup", "call", "teardown"] | None = None
    message: str = Field("", max_length=40_000)
    crash: Location | None = None
    frames: list[Frame] = Field(default_factory=list, max_length=50)


class CollectionError(_Model):
    nodeid: str = Field(max_length=4_000)
    error: str = Field(max_length=40_000)
    location: Location | None = None
    frames: list[Frame] = Field(default_factory=list, max_length=50)


class OutsideImport(_Model):
    name: str = Field(max_length=1_000)
    origin: str = Field(max_length=4_000)


class Document(_Model):
    """What one pytest session wrote (tools/pytest_plugin/loopwright_pytest_report.py)."""

    schema_: Literal["loopwright.pytest-report/1"] = Field(alias="schema")
    pytest_version: str = Field("", max_length=100)
    exit_status: int = 0
    collected: int = Field(0, ge=0)
    tests: list[TestResult] = Field(default_factory=list, max_length=200_000)
    collection_errors: list[CollectionError] = Field(default_factory=list, max_length=10_000)
    outside_imports: list[OutsideImport] = Field(default_factory=list, max_length=10_000)


@dataclass(frozen=True)
class Slot:
    """The private folder of one test run inside the sandbox."""

    folder: str

    def environment(self, root: str) -> dict[str, str]:
        return {"LOOPWRIGHT_PYTEST_REPORT": self.folder, "LOOPWRIGHT_PYTEST_ROOT": root}

    def wrap(self, command: str) -> str:
        """`command` with the plugin in front of whatever PYTHONPATH and PYTEST_ADDOPTS the sandbox already has."""
        return (
            f'export PYTHONPATH="{self.folder}${{PYTHONPATH:+:$PYTHONPATH}}"'
            f' PYTEST_ADDOPTS="-p {PLUGIN}${{PYTEST_ADDOPTS:+ $PYTEST_ADDOPTS}}"\n{command}'
        )


def plugin_source() -> str:
    return resources.files("loopwright.tools").joinpath("pytest_plugin", f"{PLUGIN}.py").read_text(encoding="utf-8")


def prepare(sandbox: Sandbox) -> Slot | None:
    """Write the plugin into a new private folder of the sandbox; None when that is not possible there."""
    token = uuid.uuid4().hex
    slot = Slot(f"/tmp/loopwright-tests-{token}")
    end = f"LOOPWRIGHT_PLUGIN_END_{token}"
    command = f"umask 077 && mkdir {slot.folder} && cat > {slot.folder}/{PLUGIN}.py <<'{end}'\n{plugin_source()}\n{end}\n"
    result = sandbox.exec(command, timeout_s=SERVICE_TIMEOUT_S)
    return slot if result.exit_code == 0 and not result.timed_out else None


def collect(sandbox: Sandbox, slot: Slot) -> tuple[list[Document], str]:
    """The documents the run wrote, and "" or why there are none to trust. Removes the folder."""
    try:
        return _read_all(sandbox, slot)
    finally:
        discard(sandbox, slot)


def discard(sandbox: Sandbox, slot: Slot) -> None:
    """Remove the run's folder; a sandbox that is gone took it along."""
    try:
        sandbox.exec(f"rm -rf {slot.folder}", timeout_s=SERVICE_TIMEOUT_S)
    except SandboxError:
        pass


def _read_all(sandbox: Sandbox, slot: Slot) -> tuple[list[Document], str]:
    listing = sandbox.exec(
        f'cd {slot.folder} && for name in report-*.json; do [ -f "$name" ] && echo "$name $(wc -c < "$name")"; done; true',
        timeout_s=SERVICE_TIMEOUT_S,
    )
    if listing.exit_code != 0 or listing.truncated:
        return [], "the report folder could not be listed"
    sizes = {}
    for line in listing.output.splitlines():
        name, _, size = line.partition(" ")
        if _DOCUMENT_NAME.fullmatch(name) and size.strip().isdigit():
            sizes[name] = int(size)
    if not sizes:
        return [], "the test command wrote no report (not pytest, pytest older than 3, or run where the plugin cannot reach)"
    if len(sizes) > MAX_DOCUMENTS:
        return [], f"the test command wrote {len(sizes)} reports, more than {MAX_DOCUMENTS}"
    documents, budget = [], MAX_REPORT_BYTES
    for name in sorted(sizes):
        text = _read_bounded(sandbox, f"{slot.folder}/{name}", budget) if sizes[name] <= budget else None
        if text is None:
            return [], f"the report {name} could not be read (over {MAX_REPORT_BYTES} bytes, not ASCII, or gone)"
        budget -= len(text)
        try:
            documents.append(Document.model_validate_json(text))
        except ValidationError as error:
            return [], f"the report {name} is not a valid report ({error.error_count()} problems)"
    return documents, ""


def _read_bounded(sandbox: Sandbox, path: str, limit: int) -> str | None:
    """The file's text, read in pieces that fit the sandbox's output cap; None past `limit` bytes or when
    anything is off (the plugin writes plain ASCII JSON, so one byte is one character)."""
    chunk = max(1024, int(getattr(sandbox, "output_limit", 64_000)) * 3 // 4)
    pieces: list[str] = []
    total = 0
    while True:
        result = sandbox.exec(f"dd if={path} bs={chunk} skip={len(pieces)} count=1 status=none", timeout_s=SERVICE_TIMEOUT_S)
        piece = result.output
        if result.exit_code != 0 or result.timed_out or result.truncated or not piece.isascii():
            return None
        total += len(piece)
        if total > limit:
            return None
        pieces.append(piece)
        if len(piece) < chunk:
            return "".join(pieces)
