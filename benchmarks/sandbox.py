"""Sandbox overheads: container start and removal, one command's round trip, and the dependency cache.

    python benchmarks/sandbox.py [--rounds 5] [--execs 30] [--out benchmarks/results/sandbox.md]

Needs a running Docker engine and the default image (`loopwright sandbox build`). The dependency rows
install one small package from PyPI (network for the setup container only) and remove their cache image after.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from loopwright.sandboxes.docker import DockerSandbox, connect
from loopwright.sandboxes.deps import DependencySpec
from loopwright.sandboxes.image import DEFAULT_IMAGE, image_exists
from loopwright.sandboxes.local import LocalSandbox


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


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--execs", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "sandbox.md")
    args = parser.parse_args()
    if not image_exists(DEFAULT_IMAGE):
        print(f"skipped: image {DEFAULT_IMAGE} is missing; run `loopwright sandbox build`", file=sys.stderr)
        return 1
    root = Path(tempfile.mkdtemp(prefix="lw-bench-sandbox-"))
    starts, closes, docker_execs = [], [], []
    for _ in range(args.rounds):
        seconds, box = timed(lambda: DockerSandbox(root, install_dependencies=False))
        starts.append(seconds)
        docker_execs += exec_latencies(box, args.execs)
        closes.append(timed(box.close)[0])
    with LocalSandbox(root) as box:
        local_execs = exec_latencies(box, args.execs)

    (root / "requirements.txt").write_text("iniconfig\n")
    client = connect()
    tag = DependencySpec.discover(root).image_tag(client.images.get(DEFAULT_IMAGE).id)
    first, box = timed(lambda: DockerSandbox(root))
    box.close()
    cached, box = timed(lambda: DockerSandbox(root))
    reused = box.deps_cached
    box.close()
    client.images.remove(tag, force=True)

    rows = [
        ("container start (no dependencies)", f"{statistics.median(starts):.3f} s", f"min {min(starts):.3f}, max {max(starts):.3f}"),
        ("container removal", f"{statistics.median(closes):.3f} s", ""),
        ("one command round trip, Docker (`true`)", f"{statistics.median(docker_execs) * 1000:.1f} ms", f"p90 {percentile(docker_execs, 0.9) * 1000:.1f} ms"),
        ("one command round trip, local (`true`)", f"{statistics.median(local_execs) * 1000:.1f} ms", f"p90 {percentile(local_execs, 0.9) * 1000:.1f} ms"),
        ("session start, dependencies installed (iniconfig)", f"{first:.2f} s", "pip in a networked setup container, committed as an image"),
        ("session start, dependency image cached", f"{cached:.2f} s", f"cache hit: {reused}"),
    ]
    command = "python benchmarks/sandbox.py" + (f" --rounds {args.rounds}" if args.rounds != 5 else "") + (f" --execs {args.execs}" if args.execs != 30 else "")
    lines = [
        "# Sandbox overheads",
        "",
        f"Command: `{command}`  ",
        f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {platform.machine()}, {platform.python_version()}; medians of {args.rounds} containers x {args.execs} commands",
        "",
        "| what | median | note |",
        "| --- | ---: | --- |",
        *[f"| {what} | {value} | {note} |" for what, value, note in rows],
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
