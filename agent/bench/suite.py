"""Many tasks: which still need a run, running them side by side, and recording each result as it finishes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed

from loopwright.bench.results import ResultStore, TaskResult
from loopwright.bench.runner import BenchOptions, run_one
from loopwright.bench.tasks import Task


def pending(tasks: Sequence[Task], store: ResultStore, mode: str, rerun: bool) -> tuple[list[Task], int]:
    """The tasks to run, and how many were skipped because the store has their result in this mode."""
    if rerun:
        return list(tasks), 0
    finished = store.latest(mode)
    todo = [task for task in tasks if task.instance_id not in finished]
    return todo, len(tasks) - len(todo)


def run_tasks(
    tasks: Sequence[Task],
    options: BenchOptions,
    store: ResultStore,
    workers: int = 1,
    on_done: Callable[[TaskResult], None] = lambda _result: None,
) -> None:
    """Run every task, `workers` at a time; each result is in the store before `on_done` hears of it. On
    Ctrl-C the tasks not started are dropped and the running ones finish (and are recorded)."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bench") as pool:
        futures = [pool.submit(_run_and_record, task, options, store) for task in tasks]
        try:
            for future in as_completed(futures):
                on_done(future.result())
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            raise


def _run_and_record(task: Task, options: BenchOptions, store: ResultStore) -> TaskResult:
    result = run_one(task, options)
    store.append(result)
    return result
