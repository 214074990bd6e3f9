"""Sandbox overheads on each container runtime (runc, and gVisor's runsc when the engine has it):
container start and removal, a session's first command (it starts the command runner), one command's
round trip (loopwright's exec and the `docker exec` CLI, measured in the same containers, and their
ratio), a small test run; then the storage limit's cost and the dependency cache.

    python benchmarks/sandbox.py [--rounds 5] [--execs 30] [--tests 5] [--out benchmarks/results/sandbox.md]

Needs a running Docker engine and the default image (`loopwright sandbox build`). The dependency rows
install one small package from PyPI (network for the setup container only) and remove their cache image after.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, UTC
from pathlib import Path

from loopwright.sandboxes.docker import SESSION_LABEL, DockerSandbox, connect
from loopwright.sandboxes.image import DEFAULT_IMAGE, image_exists
from loopwright.sandboxes.local import LocalSandbox
from loopwright.sandboxes.storage import WorkspaceGuard, disk_usage, parse_size

RUNTIMES = ("runc", "runsc")
PROJECT_MODULES = 10
TESTS_PER_MODULE = 10


def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def exec_latencies(box, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        seconds, result = timed(lambda: box.exec("true", timeout_s=30))
        assert result.exit_code == 0, result.output
        latencies.append(seconds)
    return latencies


def cli_latencies(container: str, count: int) -> list[float]:
    """`docker exec` from the command line, for comparison: a new client process per command."""
    latencies = []
    for _ in range(count):
        seconds, done = timed(lambda: subprocess.run(["docker", "exec", container, "true"], capture_output=True))
        assert done.returncode == 0, done.stderr
        latencies.append(seconds)
    return latencies


def test_run_times(box, count: int) -> list[float]:
    times = []
    for _ in range(count):
        seconds, result = timed(lambda: box.exec("python3 -m pytest -q -p no:cacheprovider", timeout_s=300))
        assert result.exit_code == 0 and f"{PROJECT_MODULES * TESTS_PER_MODULE} passed" in result.output, result.output
        times.append(seconds)
    return times


def small_project(root: Path) -> Path:
    """PROJECT_MODULES modules with TESTS_PER_MODULE tests each, one of them using tmp_path."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    for index in range(PROJECT_MODULES):
        (root / f"mod{index}.py").write_text(f"def add(a, b):\n    return a + b + {index} - {index}\n")
        tests = [f"from mod{index} import add\n"]
        tests += [f"\ndef test_add_{n}():\n    assert add({n}, 1) == {n + 1}\n" for n in range(TESTS_PER_MODULE - 1)]
        tests.append("\ndef test_writes(tmp_path):\n    (tmp_path / 'f').write_text('x')\n    assert (tmp_path / 'f').read_text() == 'x'\n")
        (root / f"test_mod{index}.py").write_text("".join(tests))
    return root


def many_files(root: Path, count: int) -> Path:
    for index in range(count):
        folder = root / f"d{index // 1000}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index}.py").write_text("x = 1\n")
    return root


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms (p90 {percentile(values, 0.9) * 1000:.1f})"


def measure_runtime(client, runtime: str, root: Path, project: Path, args) -> dict[str, str]:
    starts, firsts, closes, execs, cli = [], [], [], [], []
    for _ in range(args.rounds):
        seconds, box = timed(lambda: DockerSandbox(root, install_dependencies=False, runtime=runtime))
        starts.append(seconds)
        firsts += exec_latencies(box, 1)
        execs += exec_latencies(box, args.execs)
        (container,) = client.containers.list(filters={"label": f"{SESSION_LABEL}={box.session_id}"})
        cli += cli_latencies(container.id, args.execs)
        closes.append(timed(box.close)[0])
    with DockerSandbox(project, install_dependencies=False, runtime=runtime) as box:
        tests = test_run_times(box, args.tests)
    return {
        "container start (no dependencies)": f"{statistics.median(starts):.3f} s (min {min(starts):.3f}, max {max(starts):.3f})",
        "container removal": f"{statistics.median(closes):.3f} s",
        "a session's first command (`true`, starts the command runner)": ms(firsts),
        "one command round trip, loopwright (`true`)": ms(execs),
        "one command round trip, `docker exec` CLI (`true`)": ms(cli),
        "round trip, loopwright / `docker exec` CLI (medians)": f"{statistics.median(execs) / statistics.median(cli):.2f}x",
        f"test run: pytest, {PROJECT_MODULES * TESTS_PER_MODULE} tests in {PROJECT_MODULES} files": f"{statistics.median(tests):.2f} s (min {min(tests):.2f}, max {max(tests):.2f})",
    }


def storage_costs(project: Path, scratch: Path, count: int) -> list[tuple[str, str, str]]:
    """What the storage limit adds: one statvfs before and after each command, one walk at the start."""
    guard = WorkspaceGuard(project, parse_size("2g"))
    seconds, _ = timed(lambda: [(guard.watch(), guard.check()) for _ in range(count)])
    small, _ = timed(lambda: disk_usage(project))
    large_root = many_files(scratch / "large", 20_000)
    large, _ = timed(lambda: disk_usage(large_root))
    return [
        ("storage limit: checks per command (before and after)", f"{seconds / count * 1e6:.1f} µs", "one `statvfs` each; exact walks only past the limit"),
        ("storage limit: workspace measured at start, small project", f"{small * 1000:.1f} ms", f"{sum(1 for _ in project.rglob('*'))} entries, alongside the container's start"),
        ("storage limit: workspace measured at start, 20,000 files", f"{large * 1000:.0f} ms", "warm page cache"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--execs", type=int, default=30)
    parser.add_argument("--tests", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "sandbox.md")
    args = parser.parse_args()
    if not image_exists(DEFAULT_IMAGE):
        print(f"skipped: image {DEFAULT_IMAGE} is missing; run `loopwright sandbox build`", file=sys.stderr)
        return 1
    scratch = Path(tempfile.mkdtemp(prefix="lw-bench-sandbox-"))
    root = scratch / "empty"
    root.mkdir()
    project = small_project(scratch / "project")
    client = connect()
    registered = set(client.info().get("Runtimes") or {})
    runtimes = [name for name in RUNTIMES if name in registered]
    per_runtime = {name: measure_runtime(client, name, root, project, args) for name in runtimes}
    with LocalSandbox(root) as box:
        local_execs = exec_latencies(box, args.execs)
    single = [("one command round trip, local sandbox (`true`)", ms(local_execs), "no container")]
    single += storage_costs(project, scratch, 1000)

    (root / "requirements.txt").write_text("iniconfig\n")
    first, box = timed(lambda: DockerSandbox(root))
    tag = box.deps_image
    box.close()
    cached, box = timed(lambda: DockerSandbox(root))
    reused = box.deps_cached
    box.close()
    if tag:
        client.images.remove(tag, force=True)
    shutil.rmtree(scratch, ignore_errors=True)
    single += [
        ("session start, dependencies installed (iniconfig)", f"{first:.2f} s", "the setup phase: a networked container (always runc) installs into a virtual environment, committed as an image"),
        ("session start, dependency image cached", f"{cached:.2f} s", f"cache hit: {reused}"),
    ]

    defaults = (("--rounds", args.rounds, 5), ("--execs", args.execs, 30), ("--tests", args.tests, 5))
    command = "python benchmarks/sandbox.py" + "".join(f" {flag} {value}" for flag, value, default in defaults if value != default)
    missing = [name for name in RUNTIMES if name not in registered]
    lines = [
        "# Sandbox overheads",
        "",
        f"Command: `{command}`  ",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.machine()}, {platform.python_version()}, "
        f"{client.info().get('NCPU')} CPUs; Docker {client.version().get('Version')}; medians of {args.rounds} containers x "
        f"{args.execs} commands, {args.tests} test runs"
        + (f"; not registered, so not measured: {', '.join(missing)}" if missing else ""),
        "",
        "| what | " + " | ".join(runtimes) + " |",
        "| --- | " + " | ".join("---:" for _ in runtimes) + " |",
        *[f"| {what} | " + " | ".join(per_runtime[name][what] for name in runtimes) + " |" for what in per_runtime[runtimes[0]]],
        "",
        "| what | median | note |",
        "| --- | ---: | --- |",
        *[f"| {what} | {value} | {note} |" for what, value, note in single],
        "",
    ]
    client.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
