"""Go: modules fetched in the setup phase into a module cache in the image, `go test -json` in the agent phase.

The image comes with the build cache of a first `go test` (the standard library compiled, which otherwise
takes a minute on every new environment). The agent phase has no proxy (GOPROXY=off) and never downloads a toolchain (GOTOOLCHAIN=local); with
-mod=mod a go.sum that lacks a line the cache can answer is completed rather than refused. A vendor
directory is used as it is (-mod=vendor), with nothing to download.
"""

from __future__ import annotations

from pathlib import Path

from loopwright.sandboxes.toolchains.base import HOME, SetupStep, ToolchainPlan, read_defining

MODULE_CACHE = f"{HOME}/go/pkg/mod"
BUILD_CACHE = "/tmp/loopwright-go-cache"
TEST_COMMAND = "go test -json ./..."


class Go:
    language: str = "go"
    title: str = "Go"
    packages: tuple[str, ...] = ("golang-go",)
    image_env: dict[str, str] = {
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "GOSUMDB": "off",
        "GOPATH": f"{HOME}/go",
        "GOMODCACHE": MODULE_CACHE,
        "GOCACHE": BUILD_CACHE,
        "CGO_ENABLED": "0",
    }
    registry_dockerfile: str = "Dockerfile.go"
    image_warmup: str = (
        "mkdir -p /tmp/warmup && cd /tmp/warmup && printf 'module warmup\\n' > go.mod"
        " && printf 'package warmup\\nimport (\\n\\t\"fmt\"\\n\\t\"testing\"\\n)\\nfunc TestWarm(t *testing.T) { t.Log(fmt.Sprint(1)) }\\n' > warm_test.go"
        " && go test -json ./... > /dev/null && cd / && rm -rf /tmp/warmup"
    )
    image_warm: tuple[str, ...] = (BUILD_CACHE,)

    def plan(self, root: Path) -> ToolchainPlan:
        vendored = (root / "vendor" / "modules.txt").is_file()
        decisions = []
        steps = []
        if not (root / "go.mod").is_file():
            decisions.append("no go.mod at the root: nothing to download; the tests run as the go command finds them")
        elif vendored:
            decisions.append("vendor/modules.txt: the vendored modules are used (-mod=vendor), nothing is downloaded")
        else:
            steps.append(SetupStep("download the modules", "go mod download"))
            decisions.append("go.mod: its modules are downloaded into the image's module cache; the agent phase has no proxy")
        steps.append(SetupStep("build the tests", "go test -count=1 -run '^$' ./...", network=False))
        return ToolchainPlan(
            language=self.language,
            title=self.title,
            steps=tuple(steps),
            test_command=TEST_COMMAND,
            setup_env={"GOPROXY": "https://proxy.golang.org,direct", "GOSUMDB": "sum.golang.org", "GOFLAGS": "-mod=mod" if not vendored else "-mod=vendor"},
            agent_env={"GOFLAGS": "-mod=vendor" if vendored else "-mod=mod"},
            warm=(BUILD_CACHE,),
            defining=read_defining(root, ["go.mod", "go.sum", "go.work", "go.work.sum", "vendor/modules.txt"]),
            decisions=tuple(decisions),
            version_command="go version",
            packages_command="go list -m -f '{{if not .Main}}{{.Path}} {{.Version}}{{with .Replace}} => {{.Path}}{{end}}{{end}}' all",
        )
