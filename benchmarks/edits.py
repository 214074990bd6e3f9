"""How reliably edits apply: loopwright's edit engine against aider's appliers, on edits from real diffs.

Corpus: every file changed by the reference patches in ../shared/data/swebench/*.jsonl (their pre-images are
not in the records, so each file's pre-image is rebuilt from the hunks themselves: the source side of every
hunk, in order, and the post-image likewise), plus every text file changed between consecutive released
versions of a few PyPI sdists, downloaded at run time (whole real files on both sides).

From each changed file it derives edit requests in each format (search/replace blocks, unified diff,
str_replace calls, insert-at-line for pure insertions, whole-file writes), clean and perturbed the way models
err, applies them with both appliers and compares the result with the real post-image:
correct = identical, refused = the applier declined, wrong = it wrote something else. str_replace calls are also
run with one retry of each refused call, as a model sends it after reading the error (reported on rows of their
own; the first-try rows and the totals count no retry).

    python benchmarks/edits.py [--aider-env DIR] [--cache DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import json
import random
import subprocess
import sys
import tarfile
import tempfile
import time
import venv
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import unidiff
from loopwright.tools.editing import (
    EditRefused,
    FileEdit,
    Hunk,
    apply_edits,
    search_replace_blocks,
    unified_diff,
)

REPO = Path(__file__).resolve().parent.parent
SWEBENCH = REPO.parent / "shared" / "data" / "swebench"
RESULTS = REPO / "benchmarks" / "results" / "edits.md"
SDISTS = {
    "six": ["1.15.0", "1.16.0", "1.17.0"],
    "idna": ["3.6", "3.7", "3.8"],
    "packaging": ["23.1", "23.2", "24.0", "24.1"],
    "tomli": ["2.0.1", "2.0.2", "2.1.0"],
    "click": ["8.1.6", "8.1.7"],
}
AIDER_REQUIREMENT = "aider-chat==0.86.2"
PERTURBATIONS = ("indentation", "trailing-space", "elided", "blank-line", "stale-numbers")
RETRIED = "str_replace, one retry"
SHARED = "all three shared formats"
WIDEST_RETRY = 20
Op = tuple[str, str]  # (" " | "-" | "+", line text without newline)


@dataclass
class Case:
    source: str
    path: str
    before: str
    after: str
    hunks: list[list[Op]]
    starts: list[int]
    """1-based line of each hunk's first source line in `before`."""
    validate: bool


@dataclass
class Request:
    fmt: str
    variant: str
    case: Case
    blocks: list[tuple[str, str]] = field(default_factory=list)
    diff: str = ""
    block_text: str = ""
    edits: list[FileEdit] = field(default_factory=list)
    expected: str = ""
    undecidable: str = ""
    """Why the request does not determine its result (see `UNDECIDABLE`), or "" when it does."""


# --- corpus -------------------------------------------------------------------------------------------------

def hunks_of(patched: unidiff.PatchedFile) -> list[tuple[list[Op], int]] | None:
    out = []
    for hunk in patched:
        ops = [(line.line_type, line.value.rstrip("\n").removesuffix("\r")) for line in hunk]
        if any(op == "\\" for op, _ in ops):
            return None  # end-of-file newline changes are not expressible as line edits
        out.append((ops, hunk.source_start))
    return out


def swebench_cases() -> list[Case]:
    cases, seen = [], set()
    for data in sorted(SWEBENCH.glob("*.jsonl")):
        for line in data.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["instance_id"] in seen:
                continue
            seen.add(record["instance_id"])
            for patched in unidiff.PatchSet(record["patch"]):
                hunks = hunks_of(patched) if patched.is_modified_file else None
                if not hunks:
                    continue
                before, after, starts = [], [], []
                for ops, _ in hunks:
                    starts.append(len(before) + 1)
                    before += [t for op, t in ops if op != "+"]
                    after += [t for op, t in ops if op != "-"]
                cases.append(Case(f"swebench:{record['instance_id']}", patched.path, _text(before), _text(after), [h for h, _ in hunks], starts, False))
    return cases


def _text(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def sdist_cases(cache: Path) -> list[Case]:
    folder = cache / "sdists"
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for name, versions in SDISTS.items():
        trees = [_sdist_files(folder, name, version) for version in versions]
        for (old_version, old), (new_version, new) in zip(zip(versions, trees), zip(versions[1:], trees[1:])):
            for rel in sorted(set(old) & set(new)):
                if old[rel] == new[rel]:
                    continue
                diff = "".join(difflib.unified_diff(old[rel].splitlines(True), new[rel].splitlines(True), f"a/{rel}", f"b/{rel}"))
                patched = unidiff.PatchSet(diff)[0]
                hunks = hunks_of(patched)
                if not hunks or any(start == 0 for _, start in hunks):
                    continue
                cases.append(Case(f"sdist:{name} {old_version}->{new_version}", rel, old[rel], new[rel], [h for h, _ in hunks], [s for _, s in hunks], True))
    return cases


def _sdist_files(folder: Path, name: str, version: str) -> dict[str, str]:
    archives = list(folder.glob(f"{name}-{version}.tar.gz"))
    if not archives:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", f"{name}=={version}", "-d", str(folder)], check=True, capture_output=True)
        archives = list(folder.glob(f"{name}-{version}.tar.gz"))
    files = {}
    with tarfile.open(archives[0]) as tar:
        for member in tar.getmembers():
            if not member.isfile() or member.size > 1_000_000:
                continue
            raw = tar.extractfile(member).read()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if "\x00" in text or "\r" in text:
                continue
            files[member.name.split("/", 1)[1]] = text
    return files


# --- perturbations: the slips models make when they copy lines --------------------------------------------

def perturb(kind: str, ops: list[Op], rng: random.Random) -> list[Op] | None:
    """The hunk as a model might write it with one kind of slip; None when the slip does not apply to it."""
    if kind == "indentation":
        solid = [t for _, t in ops if t.strip()]
        common = min((len(t) - len(t.lstrip(" ")) for t in solid), default=0)
        if common >= 4:
            return [(op, t[4:] if t.strip() else t) for op, t in ops]
        return [(op, "    " + t if t.strip() else t) for op, t in ops]
    if kind == "trailing-space":
        picks = [i for i, (op, t) in enumerate(ops) if op != "+" and t.strip()]
        if not picks:
            return None
        chosen = set(rng.sample(picks, max(1, len(picks) // 3)))
        return [(op, t + " " * rng.randint(1, 3)) if i in chosen else (op, t) for i, (op, t) in enumerate(ops)]
    if kind == "elided":
        return _elide(ops)
    if kind == "blank-line":
        blanks = [i for i, (op, t) in enumerate(ops) if op == " " and not t.strip()]
        if blanks and rng.random() < 0.5:
            drop = rng.choice(blanks)
            return [o for i, o in enumerate(ops) if i != drop]
        context = [i for i, (op, t) in enumerate(ops) if op == " " and t.strip()]
        if not context:
            return None
        at = rng.choice(context)
        return ops[: at + 1] + [(" ", "")] + ops[at + 1 :]
    raise ValueError(kind)


def _elide(ops: list[Op]) -> list[Op] | None:
    """Replace the longest run of unchanged lines between two changes with a '...' line."""
    changes = [i for i, (op, _) in enumerate(ops) if op != " "]
    best = None
    i = changes[0] if changes else 0
    while i < (changes[-1] if changes else 0):
        if ops[i][0] == " ":
            j = i
            while ops[j][0] == " ":
                j += 1
            if j - i >= 3 and (best is None or j - i > best[1] - best[0]):
                best = (i, j)
            i = j
        else:
            i += 1
    if best is None:
        return None
    indent = ops[best[0]][1][: len(ops[best[0]][1]) - len(ops[best[0]][1].lstrip())]
    return ops[: best[0]] + [(" ", indent + "...")] + ops[best[1] :]


# --- requests that do not determine their result ---------------------------------------------------------

UNDECIDABLE = {
    "blank-line": (
        "a blank context line dropped next to added lines (the real diff with it on the other side of them gives "
        "the same request), or an extra blank line that the shortest diffs from the old text to the new pair "
        "with new blank lines at different places"
    ),
    "repeated": (
        "old text that occurs more than once where the change may be: in the whole file at the time for a "
        "str_replace call, between the hunks before and after it for a search/replace block (blocks come in file "
        "order); udiff hunks carry line numbers, so this never applies to them"
    ),
}


def blank_slip_undecidable(truth: list[Op], slipped: list[Op]) -> bool:
    """Whether a hunk with a blank context line dropped or added fits more than one post-image.

    Dropped: the file has a blank line the request lacks. Moving that blank context line past the added lines
    next to it (every other unchanged line staying paired) gives a real diff with the same pre-image and the
    same request; if its post-image differs, nothing can tell which was meant.
    Added: the request has a blank line the file lacks. The result is the new text without that line; when the
    shortest diffs from the old text to the new pair it with new-text blank lines at different places, dropping
    each gives different results.
    """
    if len(slipped) == len(truth):
        return False
    pre = [t for op, t in truth if op != "+"]
    if len(slipped) < len(truth):
        dropped = next((k for k, (a, b) in enumerate(zip(truth, slipped)) if a != b), len(slipped))
        return len(_moved_blank_results(truth, dropped, pre)) > 1
    old, new = [t for op, t in slipped if op != "+"], [t for op, t in slipped if op != "-"]
    return len(_dropped_blank_results(old, new, pre)) > 1


def _moved_blank_results(truth: list[Op], dropped: int, pre: list[str]) -> set[tuple[str, ...]]:
    rest = [o for k, o in enumerate(truth) if k != dropped]
    rest_pre = [t for op, t in rest if op != "+"]
    rest_post = [t for op, t in rest if op != "-"]
    pairs, i, j = [], 0, 0
    for op, _ in rest:
        if op == " ":
            pairs.append((i, j))
        i, j = i + (op != "+"), j + (op != "-")
    results = set()
    for p in range(len(rest_pre) + 1):
        if rest_pre[:p] + [""] + rest_pre[p:] != pre:
            continue
        for q in range(len(rest_post) + 1):
            if all((p <= pi) == (q <= qj) for pi, qj in pairs):
                results.add(tuple(rest_post[:q] + [""] + rest_post[q:]))
    return results


def _dropped_blank_results(old: list[str], new: list[str], pre: list[str]) -> set[tuple[str, ...]]:
    n, m = len(old), len(new)
    head = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n):
        for j in range(m):
            head[i + 1][j + 1] = head[i][j] + 1 if old[i] == new[j] else max(head[i][j + 1], head[i + 1][j])
    tail = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            tail[i][j] = tail[i + 1][j + 1] + 1 if old[i] == new[j] else max(tail[i + 1][j], tail[i][j + 1])
    results = set()
    for p in range(n):
        if old[p].strip() or old[:p] + old[p + 1 :] != pre:
            continue
        for q in range(m):
            if new[q] == old[p] and head[p][q] + 1 + tail[p + 1][q + 1] == head[n][m]:
                results.add(tuple(new[:q] + new[q + 1 :]))
    return results


def repeated_between_neighbours(case: Case) -> bool:
    """Whether a hunk's old text occurs more than once between the end of the hunk before it and the start of the
    hunk after it (in the pre-image, where all search/replace blocks of a file are placed)."""
    lines = case.before.splitlines(True)
    bounds = [(start - 1, start - 1 + sum(op != "+" for op, _ in ops)) for ops, start in zip(case.hunks, case.starts)]
    for k, ops in enumerate(case.hunks):
        lo = bounds[k - 1][1] if k else 0
        hi = bounds[k + 1][0] if k + 1 < len(bounds) else len(lines)
        if _occurrences("".join(lines[lo:hi]), sides(ops)[0]) > 1:
            return True
    return False


def repeated_old_text(case: Case) -> bool:
    """Whether one of the file's str_replace calls (one per hunk, in turn) has old text that occurs more than once
    in the file at the time: the same call would then fit the same change at each place."""
    lines = case.before.splitlines(True)
    shift = 0
    for ops, start in zip(case.hunks, case.starts):
        text = "".join(lines)
        old, new = sides(ops)
        if _occurrences(text, old) > 1:
            return True
        at = start - 1 + shift
        lines[at : at + len(old.splitlines())] = new.splitlines(True)
        shift += sum(op == "+" for op, _ in ops) - sum(op == "-" for op, _ in ops)
    return False


# --- requests in each format ---------------------------------------------------------------------------------

def sides(ops: list[Op]) -> tuple[str, str]:
    return _text([t for op, t in ops if op != "+"]), _text([t for op, t in ops if op != "-"])


def udiff_text(path: str, hunks: list[list[Op]], starts: list[int]) -> str:
    out = [f"--- a/{path}\n", f"+++ b/{path}\n"]
    for ops, start in zip(hunks, starts):
        old, new = sum(op != "+" for op, _ in ops), sum(op != "-" for op, _ in ops)
        out.append(f"@@ -{start},{old} +{start},{new} @@\n")
        out += [f"{op}{t}\n" for op, t in ops]
    return "".join(out)


def requests_for(case: Case, rng: random.Random) -> list[Request]:
    out = []
    variants = [("clean", case.hunks)]
    for kind in PERTURBATIONS:
        if kind == "stale-numbers":
            continue
        changed = [perturb(kind, ops, rng) for ops in case.hunks]
        if any(c is not None for c in changed):
            variants.append((kind, [c if c is not None else ops for c, ops in zip(changed, case.hunks)]))
    repeated = "repeated" if repeated_old_text(case) else ""
    repeated_in_room = "repeated" if repeated_between_neighbours(case) else ""
    for variant, hunks in variants:
        blocks = [sides(ops) for ops in hunks]
        slipped = variant == "blank-line" and any(blank_slip_undecidable(truth, slip) for truth, slip in zip(case.hunks, hunks))
        blank = "blank-line" if slipped else ""
        text = "".join(f"{case.path}\n<<<<<<< SEARCH\n{old}=======\n{new}>>>>>>> REPLACE\n\n" for old, new in blocks)
        out.append(Request("search/replace", variant, case, blocks=blocks, block_text=text, expected=case.after, undecidable=blank or repeated_in_room))
        out.append(Request("str_replace", variant, case, blocks=blocks, edits=[FileEdit(case.path, (Hunk(o, n, whole_lines=False),)) for o, n in blocks], expected=case.after, undecidable=blank or repeated))
        out.append(Request(RETRIED, variant, case, blocks=blocks, expected=case.after))
        diff = udiff_text(case.path, hunks, case.starts)
        out.append(Request("udiff", variant, case, diff=diff, expected=case.after, undecidable=blank))
    stale = [max(1, s + rng.choice([-1, 1]) * rng.randint(10, 60)) for s in case.starts]
    diff = udiff_text(case.path, case.hunks, stale)
    out.append(Request("udiff", "stale-numbers", case, diff=diff, expected=case.after))
    out += _inserts(case)
    out.append(Request("whole-file", "clean", case, edits=[FileEdit(case.path, content=case.after)], expected=case.after))
    return out


def _inserts(case: Case) -> list[Request]:
    """Pure insertions as insert-at-line requests, each on its own against the pre-image."""
    out = []
    lines = case.before.splitlines(True)
    for ops, start in zip(case.hunks, case.starts):
        kinds = "".join(op for op, _ in ops).strip(" ")
        if not kinds or set(kinds) != {"+"}:
            continue
        lead = next(i for i, (op, _) in enumerate(ops) if op == "+")
        at = start + lead
        added = _text([t for op, t in ops if op == "+"])
        expected = "".join(lines[: at - 1]) + added + "".join(lines[at - 1 :])
        out.append(Request("insert-at-line", "clean", case, edits=[FileEdit(case.path, (Hunk("", added, at_line=at),))], expected=expected))
    return out


# --- the two appliers ----------------------------------------------------------------------------------------

REASONS = (("places", "ambiguous: the old text matches several places"), ("times", "ambiguous: the old text matches several places"),
           ("not found", "not found"), ("syntax", "would break the syntax"), ("unclear", "blank-line count unclear next to the change"))


def reason_of(err: EditRefused) -> str:
    return next((label for key, label in REASONS if key in str(err)), "other: " + str(err)[:60])


def run_loopwright(request: Request, workspace: Path, reasons: Counter) -> str | None:
    target = workspace / Path(request.case.path).name
    target.write_bytes(request.case.before.encode("utf-8"))
    if request.fmt == RETRIED:
        return run_with_retry(request, workspace, target)
    try:
        if request.fmt == "search/replace":
            request.edits = search_replace_blocks(request.block_text)
        elif request.fmt == "udiff":
            request.edits = unified_diff(request.diff)
        for edit in request.edits:
            apply_edits(workspace, [FileEdit(target.name, edit.hunks, edit.content)], validate=request.case.validate)
    except EditRefused as err:
        reasons[(request.variant == "clean", bool(request.undecidable), reason_of(err))] += 1
        return None
    return target.read_bytes().decode("utf-8")


def run_with_retry(request: Request, workspace: Path, target: Path) -> str | None:
    """str_replace calls in turn, each refused one sent once more the way a model does after reading the error
    and the file: the hunk's lines as the file has them, with as many surrounding lines as make them unique."""
    shift = 0
    for (old, new), ops, start in zip(request.blocks, request.case.hunks, request.case.starts):
        try:
            apply_edits(workspace, [FileEdit(target.name, (Hunk(old, new, whole_lines=False),))], validate=request.case.validate)
        except EditRefused:
            retry = widened(target.read_bytes().decode("utf-8"), ops, start - 1 + shift)
            if retry is None:
                return None
            try:
                apply_edits(workspace, [FileEdit(target.name, (Hunk(*retry, whole_lines=False),))], validate=request.case.validate)
            except EditRefused:
                return None
        shift += sum(op == "+" for op, _ in ops) - sum(op == "-" for op, _ in ops)
    return target.read_bytes().decode("utf-8")


def widened(text: str, ops: list[Op], at: int) -> tuple[str, str] | None:
    """The hunk's old and new text copied from `text` at 0-based line `at`, with context added on both sides
    until the old text occurs once; None when the file does not hold the hunk's lines there."""
    lines = text.splitlines(True)
    old, new = sides(ops)
    size = len(old.splitlines())
    if "".join(lines[at : at + size]) != old:
        return None
    for extra in range(WIDEST_RETRY + 1):
        head, tail = "".join(lines[max(0, at - extra) : at]), "".join(lines[at + size : at + size + extra])
        if _occurrences(text, head + old + tail) == 1:
            return head + old + tail, head + new + tail
    return None


def _occurrences(text: str, part: str) -> int:
    count, at = 0, text.find(part)
    while at != -1:
        count, at = count + 1, text.find(part, at + 1)
    return count


def run_aider(requests: list[Request], python: Path) -> list[str | None]:
    payload = []
    for r in requests:
        payload.append({"path": r.case.path, "before": r.case.before, "format": "udiff" if r.fmt == "udiff" else "blocks", "diff": r.diff, "blocks": r.blocks})
    done = subprocess.run([str(python), str(REPO / "benchmarks" / "aider_driver.py")], input=json.dumps(payload), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the aider driver failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")
    return json.loads(done.stdout)


def aider_python(env: Path) -> Path:
    """The interpreter of a separate environment holding aider-chat (created on first use), so its pins stay there."""
    python = env / "bin" / "python"
    if not (python.exists() and subprocess.run([str(python), "-c", "import aider"], capture_output=True, check=False).returncode == 0):
        print(f"installing {AIDER_REQUIREMENT} into {env} ...", file=sys.stderr)
        venv.create(env, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", AIDER_REQUIREMENT], check=True)
    return python


# --- tally and report ----------------------------------------------------------------------------------------

def outcome(result: str | None, expected: str) -> str:
    if result is None:
        return "refused"
    return "correct" if result == expected else "wrong"


def table(rows: dict[tuple[str, str], dict[str, Counter]], names: tuple[str, str, str] = ("correct", "refused", "wrong"), order: tuple[str, str, str] = ("correct", "refused", "wrong")) -> list[str]:
    head = " | ".join(names)
    out = [f"| format | variant | cases | loopwright {head} | aider {head} |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for (fmt, variant), tallies in rows.items():
        ours, theirs = tallies["loopwright"], tallies.get("aider")
        n = sum(ours.values())
        cells = [_pct(ours, k, n) for k in order]
        cells += [_pct(theirs, k, n) for k in order] if theirs else ["n/a"] * 3
        out.append(f"| {fmt} | {variant} | {n} | " + " | ".join(cells) + " |")
    return out


def _pct(tally: Counter, key: str, total: int) -> str:
    return f"{100 * tally[key] / total:.1f}% ({tally[key]})" if total else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "loopwright" / "bench", help="where sdists and the aider environment are kept")
    parser.add_argument("--aider-env", type=Path, default=None, help="virtual environment for aider-chat (default: CACHE/aider-venv)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N changed files of each source (0: all)")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--failures", type=Path, default=None, help="write loopwright's refused and wrong cases here as JSON")
    args = parser.parse_args()
    if not SWEBENCH.is_dir():
        raise SystemExit(f"no SWE-bench data at {SWEBENCH}; it is expected in ../shared/data/swebench beside the repository")
    python = aider_python(args.aider_env or args.cache / "aider-venv")
    swe, sdist = swebench_cases(), sdist_cases(args.cache)
    if args.limit:
        swe, sdist = swe[: args.limit], sdist[: args.limit]
    rng = random.Random(args.seed)
    requests = [r for case in swe + sdist for r in requests_for(case, rng)]
    ours: list[str] = []
    failures = []
    reasons: Counter = Counter()
    timings: list[tuple[float, Request]] = []
    with tempfile.TemporaryDirectory() as folder:
        for r in requests:
            started = time.perf_counter()
            got = run_loopwright(r, Path(folder), reasons)
            if r.fmt != RETRIED:
                timings.append((time.perf_counter() - started, r))
            ours.append(outcome(got, r.expected))
            if ours[-1] != "correct":
                failures.append({"case": r.case.source, "path": r.case.path, "format": r.fmt, "variant": r.variant, "outcome": ours[-1], "undecidable": r.undecidable})
    comparable = [i for i, r in enumerate(requests) if r.fmt in ("search/replace", "str_replace", "udiff")]
    theirs = dict(zip(comparable, (outcome(got, requests[i].expected) for i, got in zip(comparable, run_aider([requests[i] for i in comparable], python)))))
    groups: dict[str, dict[tuple[str, str], dict[str, Counter]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(Counter)))
    order = ["clean", *PERTURBATIONS]
    for i, r in sorted(enumerate(requests), key=lambda item: (item[1].fmt, order.index(item[1].variant))):
        keys = [(r.fmt, r.variant)] + ([(SHARED, "clean" if r.variant == "clean" else "perturbed")] if i in theirs else [])
        for group in ("undecidable" if r.undecidable else "decidable", "all"):
            for key in keys:
                groups[group][key]["loopwright"][ours[i]] += 1
                if i in theirs:
                    groups[group][key]["aider"][theirs[i]] += 1
    if args.failures:
        args.failures.write_text(json.dumps(failures, indent=1), encoding="utf-8")
    write_report(groups, reasons, timings, swe, sdist, args)


def speed_table(timings: list[tuple[float, Request]]) -> list[str]:
    """Time per request, from reading the file to writing it (matching, every reading, syntax check), by variant kind."""
    out = ["| requests | count | median | 99th percentile | slowest |", "|---|---:|---:|---:|---|"]
    for label, keep in (("clean", lambda r: r.variant == "clean"), ("perturbed", lambda r: r.variant != "clean"), ("all", lambda r: True)):
        chosen = sorted(((t, r) for t, r in timings if keep(r)), key=lambda item: item[0])
        if not chosen:
            continue
        seconds = [t for t, _ in chosen]
        slowest, request = chosen[-1]
        where = f"{slowest * 1000:.0f} ms ({request.fmt}, {request.variant}, {request.case.path}, {request.case.before.count(chr(10))} lines)"
        out.append(f"| {label} | {len(seconds)} | {_ms(seconds, 0.5)} | {_ms(seconds, 0.99)} | {where} |")
    return out


def _ms(sorted_seconds: list[float], quantile: float) -> str:
    return f"{sorted_seconds[min(len(sorted_seconds) - 1, int(quantile * len(sorted_seconds)))] * 1000:.1f} ms"


def write_report(groups, reasons: Counter, timings: list[tuple[float, Request]], swe: list[Case], sdist: list[Case], args: argparse.Namespace) -> None:
    command = "python benchmarks/edits.py" + (f" --limit {args.limit}" if args.limit else "") + (f" --seed {args.seed}" if args.seed != 4 else "")
    decidable, undecidable, everything = groups["decidable"], groups["undecidable"], groups["all"]

    def rows_of(tallies, shared: bool):
        return {k: v for k, v in tallies.items() if (k[0] == SHARED) == shared}

    lines = [
        "# Edit application: loopwright vs aider",
        "",
        f"Command: `{command}`  ",
        f"Date: {datetime.date.today().isoformat()}  ",
        (
            f"Corpus: {len(swe)} files changed by SWE-bench reference patches (pre-image rebuilt from the hunks, "
            f"not syntax-checked since it is a patchwork) and {len(sdist)} files changed between consecutive sdists of "
            f"{', '.join(SDISTS)} (real whole files, syntax-checked).  "
        ),
        (
            f"aider: `{AIDER_REQUIREMENT}` in its own environment: `editblock_coder.do_replace` for search/replace "
            "blocks and str_replace pairs, the udiff coder's `find_diffs` + `do_replace` for diffs; n/a where aider "
            "has no such format."
        ),
        "",
        (
            "A case is one changed file (all its hunks in one request; str_replace: one call per hunk). correct = the "
            "result equals the real post-image byte for byte; refused = the applier declined; wrong = it produced "
            "anything else. Perturbations, applied to every hunk of the file they fit: indentation (the whole block "
            "shifted by 4 spaces), trailing-space (1-3 spaces after a third of the copied lines), elided (the longest "
            "run of 3+ unchanged lines between two changes replaced by `...`), blank-line (a blank context line "
            "dropped, or an extra one added), stale-numbers (each `@@` line number moved by 10-60)."
        ),
        "",
        (
            "Some requests do not determine their result: another real diff gives the very same request against the "
            "very same file, with a different post-image, so no applier can know which was meant. They are counted "
            "apart, in their own tables below, where refusing is the right answer. They are:"
        ),
        "",
        *[f"- {name}: {text}." for name, text in UNDECIDABLE.items()],
        "",
        (
            f"`{RETRIED}`: the same str_replace calls, but a refused call is sent once more the way a model does "
            "after reading the error and the file: the hunk's lines exactly as the file has them, with as many "
            f"surrounding lines (up to {WIDEST_RETRY} each side) as make the old text occur once. These rows count "
            "every request; the others count no retry; aider's appliers get no retry, hence n/a."
        ),
        "",
        "## Requests that determine their result",
        "",
        *table(rows_of(decidable, False)),
        "",
        "### Totals over the formats both appliers speak (search/replace, str_replace, udiff)",
        "",
        *table(rows_of(decidable, True)),
        "",
        "## Requests that do not determine their result",
        "",
        "matched = the applier guessed, and its guess equals the real post-image; other = it guessed otherwise.",
        "",
        *table(rows_of(undecidable, False), ("refused", "matched", "other"), ("refused", "correct", "wrong")),
        "",
        *table(rows_of(undecidable, True), ("refused", "matched", "other"), ("refused", "correct", "wrong")),
        "",
        "## All requests together, as if every one had an answer",
        "",
        *table(rows_of(everything, True)),
        "",
        "## How long loopwright takes",
        "",
        *speed_table(timings),
        "",
        "## Why loopwright refused",
        "",
        "| requests | determine their result | reason | count |",
        "|---|---|---|---:|",
        *[
            f"| {'clean' if clean else 'perturbed'} | {'no' if unsure else 'yes'} | {reason} | {n} |"
            for (clean, unsure, reason), n in sorted(reasons.items(), key=lambda i: (not i[0][0], i[0][1], -i[1]))
        ],
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
