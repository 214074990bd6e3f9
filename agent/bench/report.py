"""The benchmark's report: per repository (tasks, resolved, environment, false passes, times), then every
miss with its cause; as JSON and as markdown."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loopwright.bench.results import TaskResult
from loopwright.visible import visible

REPORT_JSON = "report.json"
REPORT_MD = "report.md"


def summarize(results: Sequence[TaskResult]) -> dict[str, Any]:
    by_repo: dict[str, list[TaskResult]] = {}
    for result in sorted(results, key=lambda r: (r.repo, r.instance_id)):
        by_repo.setdefault(result.repo, []).append(result)
    rows = [_row(repo, items) for repo, items in by_repo.items()]
    total = _row("all", list(results))
    misses = [
        {"instance_id": r.instance_id, "repo": r.repo, "status": r.status, "false_pass": r.false_pass, "cause": r.cause}
        for r in sorted(results, key=lambda r: (r.repo, r.instance_id))
        if not r.resolved
    ]
    return {"repositories": rows, "total": total, "misses": misses}


def write_reports(folder: Path, results: Sequence[TaskResult], command: str, title: str = "loopwright bench") -> dict[str, Any]:
    summary = summarize(results)
    summary["command"] = command
    (folder / REPORT_JSON).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    (folder / REPORT_MD).write_text(markdown(summary, title), encoding="utf-8")
    return summary


def markdown(summary: dict[str, Any], title: str = "loopwright bench") -> str:
    lines = [f"# {title}", "", f"`{_cell(summary.get('command', ''))}`", ""]
    lines += table(summary)
    lines += ["", "Setup times are medians over the tasks whose environment was built (cold) or came from the cache (cached).", ""]
    lines += misses(summary)
    return "\n".join(lines) + "\n"


def table(summary: dict[str, Any]) -> list[str]:
    header = "| repository | tasks | resolved | env ok | false passes | errors | median wall | setup cold | setup cached | cost |"
    lines = [header, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in [*summary["repositories"], summary["total"]]:
        name = f"**{row['repo']}**" if row["repo"] == "all" else _cell(row["repo"])
        lines.append(
            f"| {name} | {row['tasks']} | {row['resolved']} | {row['env_ok']} | {row['false_passes']} | {row['errors']} "
            f"| {_seconds(row['median_wall_s'])} | {_seconds(row['setup_cold_s'])} | {_seconds(row['setup_cached_s'])} | {_dollars(row['cost_usd'])} |"
        )
    return lines


def misses(summary: dict[str, Any]) -> list[str]:
    if not summary["misses"]:
        return ["Every task resolved."]
    lines = ["## Misses", "", "| task | status | cause |", "|---|---|---|"]
    for miss in summary["misses"]:
        status = "false pass" if miss["false_pass"] else miss["status"]
        lines.append(f"| {_cell(miss['instance_id'])} | {status} | {_cell(miss['cause'])} |")
    return lines


def _row(repo: str, results: list[TaskResult]) -> dict[str, Any]:
    cold = [r.timing.setup_s for r in results if r.setup_cached is False]
    cached = [r.timing.setup_s for r in results if r.setup_cached is True]
    costs = [r.cost.cost_usd for r in results if r.cost is not None and r.cost.cost_usd is not None]
    return {
        "repo": repo,
        "tasks": len(results),
        "resolved": sum(r.resolved for r in results),
        "env_ok": sum(bool(r.env_ok) for r in results),
        "false_passes": sum(r.false_pass for r in results),
        "errors": sum(r.status == "error" for r in results),
        "median_wall_s": _median([r.timing.total_s for r in results]),
        "setup_cold_s": _median(cold),
        "setup_cached_s": _median(cached),
        "tokens": sum(r.cost.input_tokens + r.cost.output_tokens for r in results if r.cost is not None),
        "cost_usd": round(sum(costs), 4) if costs else None,
    }


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _dollars(value: float | None) -> str:
    return "-" if value is None else f"${value:.2f}"


def _cell(text: str) -> str:
    """Text from tasks and test output, safe in a markdown table cell: one line, pipes and backticks escaped."""
    return visible(" ".join(str(text).split())).replace("|", "\\|").replace("`", "\\`")
