"""JavaScript and TypeScript: dependencies installed in the setup phase by the package manager the lockfile names
(npm, pnpm or yarn), the project's `test` script in the agent phase with npm offline.

node_modules lives at the root of the environment image (`/node_modules`), never in the user's repository: Node's
resolution (CommonJS and ESM alike), Jest's, TypeScript's `@types` lookup and npm's own PATH for scripts all walk
up from /workspace to /, so the workspace mounted in the agent phase finds the packages there, read-only, and the
host folder never gets a node_modules. (NODE_PATH would not do: ESM and Jest ignore it.) `file:` dependencies are
installed as copies (`install-links`), since a link into the repository would not survive the move to /.

When the `test` script is one Jest or Vitest command, the test command passes it their JSON reporter, written
to `$LOOPWRIGHT_JSON_REPORT` and read back by tools/jestjson.py; when it is one `node --test` command, Node's
JUnit reporter, written to `$LOOPWRIGHT_JUNIT` and read back by tools/junit.py; any other script is judged by
its exit code.

Public: `Node`, `script_command`, MODULES, REPORT_VARIABLE.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from loopwright.sandboxes import hostfs
from loopwright.sandboxes.toolchains.base import SetupStep, ToolchainPlan, read_defining

MODULES = "/node_modules"
NPM_CACHE = "/tmp/loopwright-npm-cache"
REPORT_VARIABLE = "LOOPWRIGHT_JSON_REPORT"
REPORT_PATH = f'"${{{REPORT_VARIABLE}:-/tmp/loopwright-jest.json}}"'
MANIFEST_BYTES = 1 << 20
LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock")
_KEYED_FIELDS = (
    "dependencies", "devDependencies", "optionalDependencies", "peerDependencies", "bundleDependencies",
    "overrides", "resolutions", "pnpm", "workspaces", "packageManager",
)
"""The fields of package.json that change what an install makes; the name, description, scripts (but the
install hooks) and the like do not, so exercises that differ only there share one environment."""
_INSTALL_SCRIPTS = ("preinstall", "install", "postinstall", "prepare")
_RUNNER = re.compile(r"^(?:npx\s+)?(jest|vitest)(\s[^;&|<>`$()]*)?$")
_NODE_TEST = re.compile(r"^node\s+(?:[^;&|<>`$()]*\s)?--test(?:\s[^;&|<>`$()]*)?$")
NODE_TEST_REPORTERS = (
    'NODE_OPTIONS="$NODE_OPTIONS --test-reporter=spec --test-reporter-destination=stdout'
    ' --test-reporter=junit --test-reporter-destination=${LOOPWRIGHT_JUNIT:-/tmp/loopwright-node-test.xml}"'
)
"""Node's own test runner takes its reporters from NODE_OPTIONS (arguments after `npm test --` would be read as
test files): the usual output for the model, and JUnit XML for the report."""


class Node:
    language: str = "node"
    title: str = "JavaScript/TypeScript"
    packages: tuple[str, ...] = ("nodejs", "npm")
    image_env: dict[str, str] = {
        "PATH": f"{MODULES}/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "npm_config_offline": "true",
        "npm_config_cache": NPM_CACHE,
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
        "NODE_OPTIONS": "--max-old-space-size=2048",
        "FORCE_COLOR": "0",
    }
    registry_dockerfile: str = "Dockerfile.node"
    image_warmup: str = ""
    image_warm: tuple[str, ...] = ()

    def plan(self, root: Path) -> ToolchainPlan:
        manifest = _manifest(root)
        decisions = []
        steps = []
        if manifest is None:
            decisions.append("no readable package.json at the root: nothing to install; `npm test` runs as it can")
        else:
            install, why = _install(root)
            steps.append(SetupStep("install the dependencies", install))
            steps.append(SetupStep("move node_modules out of the repository", f"rm -rf {MODULES} && if [ -d node_modules ]; then mv node_modules {MODULES}; else mkdir {MODULES}; fi", network=False))
            decisions += [why, f"node_modules is kept at {MODULES} in the environment, outside the repository; the agent phase runs npm offline"]
        if (root / "tsconfig.json").is_file():
            decisions.append("tsconfig.json: TypeScript; compile errors are read as file:line")
        command, why = script_command(manifest or {})
        decisions.append(why)
        defining = read_defining(root, [name for name in LOCKFILES if (root / name).is_file()] + [".npmrc", ".yarnrc", ".yarnrc.yml", "pnpm-workspace.yaml"])
        if manifest is not None:
            defining["package.json"] = _keyed(manifest)
        return ToolchainPlan(
            language=self.language,
            title=self.title,
            steps=tuple(steps),
            test_command=command,
            setup_env={"npm_config_offline": "false", "npm_config_install_links": "true", "npm_config_cache": "/tmp/loopwright-npm-setup", "npm_config_store_dir": "/tmp/loopwright-pnpm-store", "YARN_CACHE_FOLDER": "/tmp/loopwright-yarn-cache"},
            defining=defining,
            decisions=tuple(decisions),
            version_command="echo node $(node --version) npm $(npm --version)",
            packages_command=f"cd {MODULES} && for f in */package.json @*/*/package.json; do [ -f \"$f\" ] && node -e 'const p=require(process.argv[1]);console.log(p.name+\" \"+p.version)' \"$PWD/$f\"; done 2>/dev/null; true",
        )


def script_command(manifest: dict[str, Any]) -> tuple[str, str]:
    """The test command for the project's package.json, and why."""
    scripts = _scripts(manifest)
    script = scripts.get("test") if isinstance(scripts.get("test"), str) else ""
    if not script:
        return "npm test", "package.json has no `test` script: `npm test` (which then fails) is what there is"
    match = _RUNNER.match(script.strip())
    if match and match.group(1) == "jest":
        return f"npm test -- --json --outputFile={REPORT_PATH}", "the `test` script runs Jest: its JSON report is read back"
    if match:
        return f"npm test -- --reporter=default --reporter=json --outputFile={REPORT_PATH}", "the `test` script runs Vitest: its JSON report is read back"
    if _NODE_TEST.match(script.strip()):
        return f"{NODE_TEST_REPORTERS} npm test", "the `test` script runs Node's test runner (node --test): its JUnit report is read back"
    return "npm test", "the `test` script is not one Jest or Vitest command: its exit code decides"


def _install(root: Path) -> tuple[str, str]:
    if (root / "package-lock.json").is_file() or (root / "npm-shrinkwrap.json").is_file():
        return "npm ci --no-audit --no-fund", "package-lock.json: the locked versions are installed (npm ci)"
    if (root / "pnpm-lock.yaml").is_file():
        return "npm install -g pnpm@9 && pnpm install --frozen-lockfile", "pnpm-lock.yaml: pnpm (installed in the image, for scripts that call it) installs the locked versions"
    if (root / "yarn.lock").is_file():
        return "npm install -g yarn@1 && yarn install --frozen-lockfile --non-interactive", "yarn.lock: yarn 1 (installed in the image, for scripts that call it) installs the locked versions"
    return "npm install --no-audit --no-fund --no-package-lock", "no lockfile: npm resolves the newest matching versions (npm install)"


def _scripts(manifest: dict[str, Any]) -> dict[str, Any]:
    scripts = manifest.get("scripts")
    return scripts if isinstance(scripts, dict) else {}


def _manifest(root: Path) -> dict[str, Any] | None:
    text = hostfs.read_text(root, root / "package.json", MANIFEST_BYTES)
    try:
        found = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _keyed(manifest: dict[str, Any]) -> bytes:
    """package.json as the cache key sees it: what changes an install, in a fixed order."""
    scripts = _scripts(manifest)
    kept = {name: manifest[name] for name in _KEYED_FIELDS if name in manifest}
    kept["scripts"] = {name: scripts[name] for name in _INSTALL_SCRIPTS if name in scripts}
    return json.dumps(kept, sort_keys=True).encode()
