"""SWE-bench-format task files (JSON lines or parquet) read into `Task`s, and the selection of which to run.

A file that cannot be read as a whole (not found, bad JSON, a record without an id) is a `TaskFileError`:
nothing runs. A record that is readable but unusable (a field missing, test ids that are not a JSON list)
becomes a `Task` with a `problem`, which the run records as that task's error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REQUIRED = ("repo", "instance_id", "base_commit", "patch", "test_patch", "FAIL_TO_PASS", "PASS_TO_PASS")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_COMMIT = re.compile(r"^[0-9a-fA-F]{7,64}$")


class TaskFileError(Exception):
    """The task file as a whole cannot be used; the message is one line naming the file (and line)."""


@dataclass(frozen=True)
class Task:
    instance_id: str
    repo: str
    """`owner/name` on GitHub."""
    base_commit: str
    patch: str
    """The reference fix, a unified diff."""
    test_patch: str
    """The tests that show the fix, a unified diff applied before any test runs."""
    fail_to_pass: tuple[str, ...]
    pass_to_pass: tuple[str, ...]
    problem_statement: str = ""
    problem: str = ""
    """Why this record cannot run, in one line; empty for a usable task."""


def load_tasks(path: Path) -> list[Task]:
    """Every record of a `.jsonl`/`.json` (one object per line, or a JSON list) or `.parquet` file."""
    if not path.is_file():
        raise TaskFileError(f"{path}: no such file")
    if path.suffix == ".parquet":
        records = list(enumerate(_parquet_records(path), start=1))
    else:
        records = list(_json_records(path))
    if not records:
        raise TaskFileError(f"{path}: no task records")
    tasks: list[Task] = []
    seen: set[str] = set()
    for line, record in records:
        where = f"{path}:{line}" if path.suffix != ".parquet" else f"{path}: row {line}"
        if not isinstance(record, dict):
            raise TaskFileError(f"{where}: a task record must be a JSON object")
        instance_id = record.get("instance_id")
        if not isinstance(instance_id, str) or not instance_id.strip():
            raise TaskFileError(f"{where}: the record has no instance_id")
        if instance_id in seen:
            raise TaskFileError(f"{where}: instance_id {instance_id} appears twice")
        seen.add(instance_id)
        tasks.append(_task(record))
    return tasks


def select(tasks: Sequence[Task], instances: Iterable[str] = (), repo_filters: Iterable[str] = ()) -> list[Task]:
    """The tasks named in `instances` (all when none), of repositories matching any of `repo_filters`
    (a part of `owner/name`, any case). Raises TaskFileError naming instances the file does not hold."""
    wanted = list(dict.fromkeys(instances))
    known = {task.instance_id for task in tasks}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise TaskFileError(f"unknown instance{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
    filters = [f.lower() for f in repo_filters]
    chosen = [
        task
        for task in tasks
        if (not wanted or task.instance_id in wanted) and (not filters or any(f in task.repo.lower() for f in filters))
    ]
    if not chosen:
        raise TaskFileError("no task matches the selection")
    return chosen


def _task(record: dict[str, Any]) -> Task:
    missing = [name for name in REQUIRED if not isinstance(record.get(name), (str, list)) or record.get(name) in ("", None)]
    text: dict[str, str] = {name: value if isinstance(value := record.get(name), str) else "" for name in (*REQUIRED, "problem_statement")}
    problem = f"task record lacks {', '.join(missing)}" if missing else ""
    fail_to_pass, bad_f2p = _test_ids(record.get("FAIL_TO_PASS"))
    pass_to_pass, bad_p2p = _test_ids(record.get("PASS_TO_PASS"))
    if not problem:
        if bad_f2p or bad_p2p:
            problem = f"{'FAIL_TO_PASS' if bad_f2p else 'PASS_TO_PASS'} is not a JSON list of test ids"
        elif not fail_to_pass:
            problem = "FAIL_TO_PASS is empty: no test would show the fix"
        elif not _REPO.match(text["repo"]) or {".", ".."} & set(text["repo"].split("/")):
            problem = f"repo {text['repo']!r} is not owner/name"
        elif not _COMMIT.match(text["base_commit"]):
            problem = f"base_commit {text['base_commit'][:60]!r} is not a commit id"
    return Task(
        instance_id=record["instance_id"],
        repo=text["repo"],
        base_commit=text["base_commit"],
        patch=text["patch"],
        test_patch=text["test_patch"],
        fail_to_pass=fail_to_pass,
        pass_to_pass=pass_to_pass,
        problem_statement=text["problem_statement"],
        problem=problem,
    )


def _test_ids(value: Any) -> tuple[tuple[str, ...], bool]:
    """The ids of a FAIL_TO_PASS / PASS_TO_PASS field (a JSON string holding a list, or a list), and whether
    the field was malformed."""
    if value is None:
        return (), False
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return (), True
    if hasattr(value, "tolist"):  # a numpy array, as pandas reads list columns
        value = value.tolist()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return (), True
    return tuple(value), False


def _json_records(path: Path) -> Iterable[tuple[int, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TaskFileError(f"{path}: cannot be read ({error})") from None
    if text.lstrip().startswith("["):
        try:
            return list(enumerate(json.loads(text), start=1))
        except ValueError as error:
            raise TaskFileError(f"{path}: not valid JSON ({error})") from None
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line)))
        except ValueError as error:
            raise TaskFileError(f"{path}:{number}: not valid JSON ({error})") from None
    return records


def _parquet_records(path: Path) -> list[Any]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        pq = None
    try:
        if pq is not None:
            return pq.read_table(path).to_pylist()
        try:
            import pandas
        except ImportError:
            raise TaskFileError(
                f"{path}: reading parquet needs pyarrow (pip install 'loopwright[parquet]') or pandas; or give the tasks as JSON lines"
            ) from None
        return pandas.read_parquet(path).to_dict("records")
    except TaskFileError:
        raise
    except Exception as error:  # noqa: BLE001 - each reader has its own error types; all mean "not a readable file"
        raise TaskFileError(f"{path}: not a readable parquet file ({type(error).__name__}: {error})") from None
