"""Repo map on real multi-language repositories made in tmp_path: ranking, budget, cache, tool."""

from __future__ import annotations

import ast
import os
import subprocess
from pathlib import Path

import pytest

from loopwright.repomap import RepoIndex, RepoMapError, estimate_tokens, initial_map, make_repo_map_tool, render_map
from loopwright.repomap.store import cache_path
from loopwright.tools.base import ToolContext, ToolFailure, schema_of

SOURCES = {
    "pkg/config.py": '''
"""Configuration loading."""

DEFAULT_PATH = "app.toml"


class Settings:
    def __init__(self, values):
        self.values = values

    def lookup(self, key, default=None):
        return self.values.get(key, default)


def parse_config(text,
                 strict=False):
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return Settings(values)
''',
    "pkg/app.py": '''
from pkg.config import parse_config, Settings


def main(path):
    with open(path) as handle:
        settings = parse_config(handle.read())
    return run(settings)


def run(settings: Settings):
    return settings.lookup("mode")
''',
    "web/client.ts": '''
export interface User { id: number; name: string }

export class ApiClient {
  constructor(private base: string) {}
  async get(path: string): Promise<Response> { return fetch(this.base + path); }
}

export function fetchUser(client: ApiClient, id: number): Promise<User> {
  return client.get(`/users/${id}`).then((r) => r.json());
}
''',
    "web/index.js": '''
import { fetchUser, ApiClient } from "./client";

function showUser(id) {
  const client = new ApiClient("/api");
  return fetchUser(client, id).then((user) => render(user));
}

function render(user) { return user.name; }
''',
    "server/main.go": '''
package server

type Handler struct {
	Name string
}

func (h *Handler) ServeRequest(path string) error {
	return nil
}

func StartServer(addr string) *Handler {
	return &Handler{Name: addr}
}
''',
    "core/lib.rs": '''
pub struct Hasher {
    seed: u64,
}

impl Hasher {
    pub fn new(seed: u64) -> Self { Hasher { seed } }
}

pub fn compute_hash(data: &[u8]) -> u64 {
    let h = Hasher::new(7);
    data.iter().fold(h.seed, |a, b| a ^ (*b as u64))
}
''',
    "java/App.java": '''
public class App {
    public static void main(String[] args) {
        new App().launchRocket(3);
    }

    void launchRocket(int count) {
        System.out.println(count);
    }
}
''',
    "native/util.h": "int checksum_bytes(const char *data, int length);\n",
    "native/util.c": '''
#include "util.h"

int checksum_bytes(const char *data, int length) {
    int sum = 0;
    for (int i = 0; i < length; i++) sum += data[i];
    return sum;
}
''',
    "native/engine.cpp": '''
#include "util.h"

class TurboEngine {
 public:
  int spin(const char *data);
};

int TurboEngine::spin(const char *data) { return checksum_bytes(data, 4); }
''',
    "docs/notes.md": "# Notes\n\nNothing to parse here.\n",
}


def _filler(count: int) -> dict[str, str]:
    """Modules that reference each other, so the map has more to show than any small budget."""
    files = {}
    for n in range(count):
        body = [f'"""Helpers number {n}."""\n', f"from pkg import helpers_{(n + 1) % count}\n\n"]
        for k in range(6):
            body.append(
                f"def helper_{n}_{k}(value, option_{k}=None, *, flag=False):\n"
                f"    return helpers_{(n + 1) % count}.helper_{(n + 1) % count}_{k}(value)\n\n"
            )
        files[f"pkg/helpers_{n}.py"] = "".join(body)
    return files


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def _make_repo(root: Path, files: dict[str, str], git: bool = True) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"), encoding="utf-8")
    if git:
        _git(root, "init", "-q")
        _git(root, "add", "-A")
        _git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "fixture")
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return _make_repo(tmp_path / "repo", {**SOURCES, **_filler(30)})


def _files_in_order(text: str) -> list[str]:
    return [line[:-1] for line in text.splitlines() if line and not line[0].isspace() and line.endswith(":")]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("parse_config returns wrong values when a line has no '=' sign", "pkg/config.py"),
        ("fetchUser should retry when the server answers 503", "web/client.ts"),
        ("StartServer ignores the address", "server/main.go"),
        ("compute_hash overflows on long input", "core/lib.rs"),
        ("launchRocket prints the wrong count", "java/App.java"),
        ("TurboEngine spin must not read past the buffer", "native/engine.cpp"),
        ("checksum_bytes is wrong for negative chars", "native/util.c"),
    ],
)
def test_defining_file_of_a_mentioned_identifier_ranks_first(repo: Path, query: str, expected: str) -> None:
    text = render_map(repo, query, 512)
    assert _files_in_order(text)[0] == expected, text[:600]


def test_signatures_are_shown_with_bodies_elided_and_enclosing_class(repo: Path) -> None:
    text = render_map(repo, "Settings.lookup default value", 512)
    block = text.split("pkg/config.py:\n", 1)[1].split("\n\n", 1)[0]
    assert "    6│class Settings:" in block
    assert "   10│    def lookup(self, key, default=None):" in block
    assert "return self.values.get" not in text  # bodies are elided
    multi_line = render_map(repo, "parse_config strict", 512)
    assert "   14│def parse_config(text,\n   15│                 strict=False):" in multi_line


@pytest.mark.parametrize("tokens", [100, 300, 700, 1500])
def test_budget_is_respected_within_five_percent(repo: Path, tokens: int) -> None:
    text = render_map(repo, "helper_3_2 and parse_config", tokens)
    used = estimate_tokens(text)
    assert used <= tokens
    assert used >= 0.95 * tokens, f"{used} of {tokens}"


def test_cache_reparses_exactly_the_changed_files(repo: Path) -> None:
    first = RepoIndex.open(repo)
    assert "pkg/config.py" in first.reparsed and len(first.reparsed) == len(SOURCES) + 30
    assert cache_path(repo).is_file()
    assert RepoIndex.open(repo).reparsed == []

    config = repo / "pkg/config.py"
    config.write_text(config.read_text() + "\n\ndef reload_config(path):\n    return parse_config(path)\n")
    (repo / "pkg/extra.py").write_text("def brand_new_function():\n    return 1\n")
    os.utime(repo / "pkg/app.py")  # touched, same bytes: nothing to re-parse
    (repo / "web/index.js").unlink()
    again = RepoIndex.open(repo)
    assert sorted(again.reparsed) == ["pkg/config.py", "pkg/extra.py"]
    assert "web/index.js" not in again.graph.paths
    assert RepoIndex.open(repo).reparsed == []
    assert "def reload_config(path):" in render_map(repo, "reload_config", 256)


def test_cache_without_git_uses_file_stats(tmp_path: Path) -> None:
    root = _make_repo(tmp_path / "plain", SOURCES, git=False)
    assert len(RepoIndex.open(root).reparsed) == len(SOURCES)
    (root / "core/lib.rs").write_text("pub fn other_thing() -> u8 { 1 }\n")
    os.utime(root / "pkg/app.py")
    assert RepoIndex.open(root).reparsed == ["core/lib.rs"]


def test_new_query_on_warm_cache_reparses_nothing_and_changes_the_ranking(repo: Path) -> None:
    RepoIndex.open(repo)
    rust = render_map(repo, "compute_hash", 256)
    java = render_map(repo, "launchRocket", 256)
    assert _files_in_order(rust)[0] == "core/lib.rs" and _files_in_order(java)[0] == "java/App.java"
    assert RepoIndex.open(repo).reparsed == []


def test_paths_in_the_query_personalize_and_text_files_are_listed(repo: Path) -> None:
    text = render_map(repo, "see docs/notes.md and pkg/helpers_7.py", 400)
    assert text.splitlines()[0] in ("docs/notes.md", "pkg/helpers_7.py:")
    assert "docs/notes.md\n" in text


def test_map_is_deterministic_for_the_same_task(repo: Path) -> None:
    assert initial_map(repo, "parse_config", 600) == initial_map(repo, "parse_config", 600)


def test_corrupt_cache_is_rebuilt(repo: Path) -> None:
    RepoIndex.open(repo)
    cache_path(repo).write_bytes(b"not an archive")
    assert len(RepoIndex.open(repo).reparsed) == len(SOURCES) + 30


def test_parallel_parse_reports_progress(tmp_path: Path) -> None:
    root = _make_repo(tmp_path / "wide", _filler(120), git=False)
    seen: list[tuple[int, int]] = []
    index = RepoIndex.open(root, progress=lambda done, total: seen.append((done, total)), workers=2)
    assert len(index.reparsed) == 120
    assert seen[0] == (0, 120) and seen[-1] == (120, 120)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert "helper_5_0" in index.idents


def test_repo_map_tool(repo: Path, tmp_path: Path) -> None:
    tool = make_repo_map_tool(repo)
    assert tool.name == "repo_map"
    assert set(schema_of(tool)["properties"]) == {"query", "tokens"}
    ctx = ToolContext(root=repo, sandbox=None, test_command="true")  # type: ignore[arg-type]
    out = tool.run(tool.Args(query="where is StartServer", tokens=256), ctx)
    assert _files_in_order(out.text)[0] == "server/main.go"
    with pytest.raises(ToolFailure):
        tool.run(tool.Args(query="  "), ctx)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "empty" in make_repo_map_tool(empty).run(tool.Args(query="x"), ctx).text


def test_bad_root_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(RepoMapError, match="not a directory"):
        render_map(tmp_path / "missing", "x", 100)
    with pytest.raises(RepoMapError, match="positive"):
        render_map(tmp_path, "x", 0)


def test_tool_module_imports_only_the_tool_seam() -> None:
    source = Path(__file__).resolve().parents[1] / "tools" / "repo_map.py"
    ours = [
        node.module
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("loopwright")
    ]
    assert ours == ["loopwright.tools.base"]


def test_untracked_files_are_seen_without_rescanning_everything(repo: Path) -> None:
    (repo / ".gitignore").write_text("build/\n")
    (repo / "build").mkdir()
    (repo / "build/generated.py").write_text("def generated_thing():\n    pass\n")
    (repo / "empty_dir").mkdir()
    RepoIndex.open(repo)
    (repo / "empty_dir/late.py").write_text("def arrived_late():\n    pass\n")
    assert RepoIndex.open(repo).reparsed == ["empty_dir/late.py"]
    (repo / "empty_dir/late.py").write_text("def arrived_late(again):\n    pass\n")
    assert RepoIndex.open(repo).reparsed == ["empty_dir/late.py"]
    (repo / "pkg/deep/er").mkdir(parents=True)
    (repo / "pkg/deep/er/mod.py").write_text("def deeply_nested():\n    pass\n")
    assert RepoIndex.open(repo).reparsed == ["pkg/deep/er/mod.py"]
    assert "build/generated.py" not in RepoIndex.open(repo).graph.paths
    with open(repo / ".gitignore", "w") as handle:  # rewritten in place: no folder mtime moves
        handle.write("# nothing ignored\n")
    index = RepoIndex.open(repo)
    assert "build/generated.py" in index.graph.paths and "build/generated.py" in index.reparsed


def test_incremental_graph_equals_a_fresh_build(repo: Path) -> None:
    RepoIndex.open(repo)
    config = repo / "pkg/config.py"
    config.write_text(config.read_text().replace("def parse_config", "def helper_inside():\n    pass\n\n\ndef parse_config"))
    (repo / "pkg/helpers_3.py").unlink()
    (repo / "pkg/zz_new.py").write_text("class Late:\n    def parse_config(self):\n        return helper_2_1()\n")
    incremental = RepoIndex.open(repo)
    cache_path(repo).unlink()
    fresh = RepoIndex.open(repo)
    assert incremental.graph.paths == fresh.graph.paths

    def named(index: RepoIndex) -> list[tuple]:
        g = index.graph
        refs = sorted((g.paths[f], index.idents[i], float(c)) for f, i, c in zip(g.ref_file, g.ref_ident, g.ref_count))
        defs = [
            (g.paths[f], index.idents[i], int(line), int(end), index.idents[g.def_ident[p]] if p >= 0 else None)
            for f, i, line, end, p in zip(g.def_file, g.def_ident, g.def_line, g.def_signature_end, g.def_parent)
        ]
        return [refs, defs]

    assert named(incremental) == named(fresh)
