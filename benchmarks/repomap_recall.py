"""Localization recall of the repo map on SWE-bench tasks, for benchmarks/repomap.py.

Checkout mode (the default): one work tree per repository, cloned from a git mirror, moved to each task's
base commit in turn (oldest task first, as a user's tree moves), so loopwright's cached index is updated
incrementally from one task to the next. At each task both budgets are mapped with the incremental cache and
compared byte for byte with a map built from nothing, and aider maps the same tree in the same run.

Sdist mode: the latest sdist of each task's version series stands in for the tree (no tests, no history).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

BUDGETS = (1024, 4096)
AIDER_CACHE = ".aider.tags.cache.v4"
MIRROR_LAYOUTS = ("{owner}+{name}/repo", "{owner}+{name}", "{owner}/{name}.git", "{owner}/{name}", "{name}.git", "{name}")
NOT_CODE = (".rst", ".md", ".txt", ".cfg", ".ini", ".toml", ".yml", ".yaml", ".json", ".in")


@dataclass
class Outcome:
    """One task: which gold files each tool's map lists at each budget."""

    repo: str
    instance_id: str
    gold: list[str]
    present: list[str]
    """Gold files that exist at the base commit (a file the fix creates cannot be in any map)."""
    found: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    """(tool, budget) -> the gold files its map lists."""
    same_as_fresh: dict[int, bool] = field(default_factory=dict)
    place: int | None = None
    """Where loopwright's ranking puts the best-placed present gold file among all files (1 = first)."""
    listed: dict[int, int] = field(default_factory=dict)
    """Budget -> how many files loopwright's map lists."""
    update_s: float = 0.0
    warm_s: float = 0.0

    def any(self, tool: str, budget: int) -> bool:
        return bool(self.found.get((tool, budget)))

    def all(self, tool: str, budget: int) -> bool:
        return set(self.found.get((tool, budget), ())) == set(self.gold)


def load_tasks(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def gold_files(patch: str) -> list[str]:
    return sorted(set(re.findall(r"^diff --git a/(\S+) b/", patch, flags=re.MULTILINE)))


def map_files(text: str) -> set[str]:
    """File names a map lists: header lines `path:` and bare path lines, for either tool's format."""
    names = set()
    for line in text.splitlines():
        line = line.strip()
        if line and line[0] not in "│⋮" and not line[0].isdigit() and " " not in line:
            names.add(line.removesuffix(":"))
    return names


def find_mirror(mirrors: Path, repo: str) -> Path | None:
    owner, name = repo.split("/")
    for layout in MIRROR_LAYOUTS:
        candidate = mirrors / layout.format(owner=owner, name=name)
        if (candidate / "objects").is_dir() or (candidate / ".git").is_dir():
            return candidate
    return None


def git(tree: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(tree), *args], check=True, capture_output=True, text=True).stdout


def tracked(tree: Path) -> list[str]:
    """Tracked files that are on disk (a mirror may lack the blobs of a few large data files)."""
    listing = subprocess.run(["git", "-C", str(tree), "ls-files", "-z"], capture_output=True, check=True).stdout
    return [p for p in listing.decode().split("\0") if p and (tree / p).is_file()]


def work_tree(work: Path, mirror: Path, repo: str) -> Path:
    """A clone of the mirror to move between base commits; aider's cache folder is ignored there, so both
    tools see exactly the tracked files."""
    tree = work / "checkouts" / repo.replace("/", "+")
    if not (tree / ".git").is_dir():
        shutil.rmtree(tree, ignore_errors=True)
        tree.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--no-checkout", str(mirror), str(tree)], check=True)
    exclude = tree / ".git" / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    if AIDER_CACHE not in (exclude.read_text() if exclude.exists() else ""):
        with open(exclude, "a") as handle:
            handle.write(f"\n{AIDER_CACHE}/\n")
    return tree


def check_out(tree: Path, commit: str) -> list[str]:
    """Moves the work tree to `commit`; returns the tracked files git could not write because the mirror
    lacks their blobs (large data files: both tools see the tree without them)."""
    subprocess.run(["git", "-C", str(tree), "checkout", "-q", "--force", "--detach", commit], capture_output=True, check=False)
    if git(tree, "rev-parse", "HEAD").strip() != commit:
        raise SystemExit(f"{tree}: cannot check out {commit}")
    git(tree, "clean", "-q", "-ffdx", "-e", AIDER_CACHE)
    listing = git(tree, "ls-files", "-z", "--deleted")
    return sorted(p for p in listing.split("\0") if p)


@contextmanager
def state_dir(path: Path):
    """loopwright's host state (the repo-map cache) in `path` for the duration."""
    before = os.environ.get("LOOPWRIGHT_STATE_DIR")
    os.environ["LOOPWRIGHT_STATE_DIR"] = str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("LOOPWRIGHT_STATE_DIR", None)
        else:
            os.environ["LOOPWRIGHT_STATE_DIR"] = before


class Aider:
    """aider's RepoMap in its own virtual environment, one process serving a whole sequence of trees."""

    def __init__(self, python: Path, driver: Path) -> None:
        self.process = subprocess.Popen([str(python), str(driver)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def maps(self, tree: Path, jobs: list[dict], fresh: bool = False) -> dict[str, dict]:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps({"root": str(tree), "files": tracked(tree), "fresh": fresh, "jobs": jobs}) + "\n")
        self.process.stdin.flush()
        results = {}
        for line in self.process.stdout:
            row = json.loads(line)
            if row.get("done"):
                return results
            results[row["label"]] = row
        raise SystemExit(f"aider driver stopped on {tree} (exit {self.process.wait()})")

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def checkout_recall(tasks: list[dict], mirrors: Path, work: Path, aider: Aider | None, compare_fresh: bool, log=print) -> tuple[list[Outcome], list[str]]:
    """Every task whose repository has a mirror, in full checkouts; notes say what was left out and why."""
    by_repo: dict[str, list[dict]] = {}
    for task in tasks:
        by_repo.setdefault(task["repo"], []).append(task)
    outcomes, notes = [], []
    state = work / "state"
    shutil.rmtree(state, ignore_errors=True)  # the sequence starts cold: every later map is an incremental update
    for repo, group in sorted(by_repo.items()):
        mirror = find_mirror(mirrors, repo)
        if mirror is None:
            notes.append(f"{repo}: no mirror under {mirrors}; its {len(group)} tasks are left out")
            continue
        tree = work_tree(work, mirror, repo)
        group.sort(key=lambda task: (task["created_at"], task["instance_id"]))
        notes.append(f"{repo}: {len(group)} tasks, base commits {group[0]['created_at'][:10]} to {group[-1]['created_at'][:10]}")
        absent: set[str] = set()
        for task in group:
            absent |= set(check_out(tree, task["base_commit"]))
            outcome = one_task(tree, task, aider, compare_fresh, state)
            outcomes.append(outcome)
            log(summary_line(outcome))
        if absent:
            notes.append(f"{repo}: {len(absent)} large files have no blob in the mirror and are absent from the trees ({', '.join(sorted(absent))})")
    return outcomes, notes


def one_task(tree: Path, task: dict, aider: Aider | None, compare_fresh: bool, state: Path) -> Outcome:
    from loopwright.repomap import RepoIndex, render_map
    from loopwright.repomap.rank import rank

    gold = gold_files(task["patch"])
    outcome = Outcome(task["repo"], task["instance_id"], gold, [g for g in gold if (tree / g).is_file()])
    query = task["problem_statement"]
    maps = {}
    with state_dir(state):
        for budget in BUDGETS:
            start = time.perf_counter()
            maps[budget] = render_map(tree, query, budget)
            seconds = time.perf_counter() - start
            if budget == BUDGETS[0]:
                outcome.update_s = seconds  # the first call after the checkout updates the index
            else:
                outcome.warm_s = seconds
        index = RepoIndex.open(tree)
        order = rank(index.graph, index.idents, index.ident_shape, query).files.tolist()
        places = [order.index(index.graph.paths.index(g)) + 1 for g in outcome.present if g in index.graph.paths and index.graph.paths.index(g) in order]
        outcome.place = min(places) if places else None
    for budget in BUDGETS:
        listed = map_files(maps[budget])
        outcome.found["loopwright", budget] = sorted(g for g in gold if g in listed)
        outcome.listed[budget] = len(listed)
    if compare_fresh:
        with tempfile.TemporaryDirectory(prefix="fresh-state-") as fresh, state_dir(Path(fresh)):
            for budget in BUDGETS:
                outcome.same_as_fresh[budget] = render_map(tree, query, budget) == maps[budget]
    if aider is not None:
        jobs = [{"label": str(budget), "query": query, "tokens": budget, "touch": None} for budget in BUDGETS]
        theirs = aider.maps(tree, jobs)
        for budget in BUDGETS:
            outcome.found["aider", budget] = sorted(g for g in gold if g in map_files(theirs[str(budget)]["map"]))
    return outcome


def summary_line(outcome: Outcome) -> str:
    cells = " ".join(
        f"{tool[0]}{budget // 1024}k={'A' if outcome.all(tool, budget) else 'a' if outcome.any(tool, budget) else '-'}"
        for tool in ("loopwright", "aider")
        for budget in BUDGETS
        if (tool, budget) in outcome.found
    )
    fresh = "" if not outcome.same_as_fresh else (" fresh=same" if all(outcome.same_as_fresh.values()) else " fresh=DIFFERENT")
    return f"{outcome.instance_id:40} {cells} place={outcome.place} update={outcome.update_s:.2f}s warm={outcome.warm_s:.2f}s{fresh}"


def miss_class(outcome: Outcome, budget: int) -> str:
    """Why loopwright's map at `budget` lists no gold file."""
    if not outcome.present:
        return "the fix only creates files: none exists at the base commit"
    if all(g.endswith(NOT_CODE) for g in outcome.present):
        return "only docs or config files change (changelog, docs pages)"
    if outcome.place is None:
        return "the gold file has no score: nothing links it to the query"
    if outcome.place <= 10:
        return "ranked in the top 10 files, crowded out of the map"
    if outcome.place <= 50:
        return "ranked 11th to 50th among files"
    return "ranked below the 50th file"


def sdist_trees(tasks: list[dict], prepare_tree, pypi_names: dict[str, str]) -> tuple[list[tuple[Path, list[dict]]], list[str]]:
    """(tree, its tasks) for each version series, from the series' latest sdist."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for task in tasks:
        groups.setdefault((task["repo"], task["version"]), []).append(task)
    trees, notes = [], []
    for (repo, version), group in sorted(groups.items()):
        requirement = f"{pypi_names[repo]}~={version}.0"
        try:
            tree = prepare_tree(requirement)
        except (SystemExit, subprocess.CalledProcessError) as exc:
            notes.append(f"{repo} {version}: no sdist ({exc}); its {len(group)} tasks count as misses")
            continue
        notes.append(f"{repo} {version}: {tree.name} ({len(group)} tasks)")
        trees.append((tree, group))
    return trees, notes


def sdist_recall(trees: list[tuple[Path, list[dict]]], work: Path, aider: Aider | None, log=print) -> list[Outcome]:
    outcomes = []
    for tree, group in trees:
        state = Path(tempfile.mkdtemp(prefix="sdist-state-", dir=work))
        try:
            for task in group:
                outcome = one_task(tree, task, aider, False, state)
                outcomes.append(outcome)
                log(summary_line(outcome))
        finally:
            shutil.rmtree(state, ignore_errors=True)
    return outcomes


def table(outcomes: list[Outcome], tools: list[str]) -> list[str]:
    """Per repository and in total: any / all gold files listed, at each budget, for each tool."""
    repos = sorted({o.repo for o in outcomes})
    lines = [
        "| repository | tasks | tool | any 1k | any 4k | all 1k | all 4k |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for repo in [*repos, "all"]:
        chosen = [o for o in outcomes if repo in ("all", o.repo)]
        n = len(chosen)
        for tool in tools:
            cells = []
            for kind in ("any", "all"):
                for budget in BUDGETS:
                    hits = sum(getattr(o, kind)(tool, budget) for o in chosen)
                    cells.append(f"{hits} ({hits / n:.0%})")
            name = f"**{repo}**" if repo == "all" else repo
            lines.append(f"| {name} | {n} | {tool} | {' | '.join(cells)} |")
    return lines


def misses(outcomes: list[Outcome]) -> list[str]:
    import statistics

    from loopwright.repomap.roles import is_secondary

    lines = []
    for budget in BUDGETS:
        missed = [o for o in outcomes if not o.any("loopwright", budget)]
        counts: dict[str, list[str]] = {}
        for o in missed:
            counts.setdefault(miss_class(o, budget), []).append(o.instance_id)
        listed = statistics.median(o.listed[budget] for o in outcomes)
        lines.append(f"At {budget // 1024}k (a map lists {listed:.0f} files, median), {len(missed)} tasks without any gold file in loopwright's map:")
        lines.append("")
        for reason, ids in sorted(counts.items(), key=lambda kv: -len(kv[1])):
            lines.append(f"- {reason}: {len(ids)} ({', '.join(ids)})")
        lines.append("")
        partial = [o for o in outcomes if o.any("loopwright", budget) and not o.all("loopwright", budget)]
        kinds: dict[str, int] = {}
        for o in partial:
            for gold in set(o.gold) - set(o.found["loopwright", budget]):
                kind = (
                    "created by the fix"
                    if gold not in o.present
                    else "docs or config (changelogs, docs pages)"
                    if gold.endswith(NOT_CODE)
                    else "tests or fixtures"
                    if is_secondary(gold)
                    else "code"
                )
                kinds[kind] = kinds.get(kind, 0) + 1
        summary = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
        lines.append(f"{len(partial)} tasks with some but not all gold files at {budget // 1024}k; the gold files missing from them: {summary}.")
        lines.append("")
    return lines


if __name__ == "__main__":
    sys.exit("run benchmarks/repomap.py")
