"""Drives aider's RepoMap for benchmarks/repomap.py, inside aider's own virtual environment.

Reads JSON requests on stdin, one a line, and prints one JSON result per job on stdout, then a line
`{"done": true}` after each request (so one process can serve a whole sequence of checkouts):
    {"root": str, "files": [relative paths], "fresh": bool,
     "jobs": [{"label": str, "query": str, "tokens": int, "touch": relative path or null}]}
Token counting is the same four-characters-per-token estimate loopwright uses, so budgets compare.
Mentions are found the way aider's chat loop finds them (words that name files or identifiers).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time


class _Model:
    """The only part of a model that RepoMap uses: token counting."""

    def token_count(self, text: str) -> float:
        return len(text) / 4


def _file_mentions(text: str, files: list[str]) -> set[str]:
    words = {word.rstrip(",.!;:?").strip("\"'`*_") for word in text.split()}
    mentioned = {f for f in files if f in words}
    by_name: dict[str, list[str]] = {}
    for rel in files:
        name = os.path.basename(rel)
        if any(ch in name for ch in "._-"):
            by_name.setdefault(name, []).append(rel)
    mentioned |= {rels[0] for name, rels in by_name.items() if len(rels) == 1 and name in words}
    return mentioned


def main() -> None:
    from aider.io import InputOutput
    from aider.repomap import RepoMap

    results = sys.stdout
    sys.stdout = sys.stderr  # aider reports progress and warnings on stdout; keep that stream for results
    io = InputOutput(yes=True, pretty=False, fancy_input=False)
    for line in iter(sys.stdin.readline, ""):
        if line.strip():
            serve(json.loads(line), io, results, RepoMap)
            print(json.dumps({"done": True}), file=results, flush=True)


def serve(request: dict, io, results, RepoMap) -> None:
    root = request["root"]
    files = request["files"]
    if request.get("fresh"):
        shutil.rmtree(os.path.join(root, ".aider.tags.cache.v4"), ignore_errors=True)
    absolute = [os.path.join(root, f) for f in files]
    for job in request["jobs"]:
        if job.get("touch"):
            os.utime(os.path.join(root, job["touch"]))
        query = job["query"]
        # "always": recompute on every call, as a changed tree requires; "auto" would return a stale map.
        repo_map = RepoMap(map_tokens=job["tokens"], root=root, main_model=_Model(), io=io, refresh="always")
        start, cpu = time.perf_counter(), time.process_time()
        text = repo_map.get_repo_map(
            [], absolute, mentioned_fnames=_file_mentions(query, files), mentioned_idents=set(re.split(r"\W+", query))
        ) or ""
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(json.dumps({"label": job["label"], "seconds": seconds, "cpu": cpu, "map": text}), file=results, flush=True)


if __name__ == "__main__":
    main()
