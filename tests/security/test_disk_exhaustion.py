"""Class 4, the host's side: a file of any size in the workspace is never read whole by loopwright.

The sandbox makes a 5 GB file (sparse, so the test costs no disk) and the model asks for it every way the
tools allow; loopwright's own process must stay small and finish promptly. (The container's side, the
storage limit itself, is in test_sandbox_limits.py.)
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import pytest

from tests.repos import make_repo

pytestmark = pytest.mark.docker


def test_a_huge_workspace_file_is_never_read_whole(tmp_path, sandbox_image, runtime):
    repo = make_repo(tmp_path / "repo", {"a.py": "def f():\n    return 1\n"})
    calls = [
        ["run_shell", {"command": "truncate -s 5G big.py && truncate -s 5G data.bin && ls -la big.py"}],
        ["read_file", {"path": "big.py"}],
        ["search", {"pattern": "x"}],
        ["edit_file", {"path": "big.py", "old_text": "a", "new_text": "b"}],
        ["repo_map", {"query": "big"}],
    ]
    script = [{"text": "", "calls": [call]} for call in calls] + [{"text": "done", "calls": [["submit", {"summary": "done"}]]}]
    (tmp_path / "script.json").write_text(json.dumps(script))
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "loopwright", "run", "task", "--repo", str(repo), "--model", f"scripted:{tmp_path / 'script.json'}", "--max-steps", "8"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "LOOPWRIGHT_SANDBOX_RUNTIME": runtime},
    )
    elapsed = time.monotonic() - started
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "stop reason : submitted" in proc.stdout, proc.stdout[-2000:]
    assert "too large" in proc.stdout or "over the limit" in proc.stdout
    assert peak_mib < 600, f"loopwright's process peaked at {peak_mib:.0f} MiB"
    assert elapsed < 120, f"the run took {elapsed:.0f} s"
