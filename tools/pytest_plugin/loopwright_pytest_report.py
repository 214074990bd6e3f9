"""loopwright's pytest plugin: the run's results as one JSON document, for the agent that started the run.

Shipped as package data and copied into a private folder of the sandbox at test time; loaded with
`-p loopwright_pytest_report` from PYTEST_ADDOPTS, never installed into the project. Only the process that
finds LOOPWRIGHT_PYTEST_REPORT in its environment records anything; it takes that variable and its own
`-p` out of the environment at configure time, so pytest runs started by the tests themselves record
nothing and see the environment they would have seen without loopwright.

Runs inside the project's environment: the standard library and pytest only, Python 3.7+, pytest 3+
(checked against 3.0, 3.5, 4.6, 5.4 and 6.0 as well as current ones: projects at old commits pin old pytest).
"""

import json
import linecache
import os
import platform
import sys
import traceback

import pytest

REPORT_DIR = "LOOPWRIGHT_PYTEST_REPORT"
ROOT = "LOOPWRIGHT_PYTEST_ROOT"
NAME = "loopwright_pytest_report"
ADDOPTS = "-p " + NAME
SCHEMA = "loopwright.pytest-report/1"
MAX_TEXT = 20000
MAX_FRAMES = 12
MAX_TESTS = 100000
_LIBRARY_DIRS = ("site-packages", "dist-packages")


def pytest_configure(config):
    report_dir = os.environ.pop(REPORT_DIR, None)
    root = os.environ.pop(ROOT, None)
    addopts = os.environ.get("PYTEST_ADDOPTS", "")
    if addopts.startswith(ADDOPTS):
        rest = addopts[len(ADDOPTS):].strip()
        if rest:
            os.environ["PYTEST_ADDOPTS"] = rest
        else:
            del os.environ["PYTEST_ADDOPTS"]
    if not report_dir or not root or int(pytest.__version__.split(".")[0]) < 3:
        return
    config.pluginmanager.register(_Recorder(report_dir, root), NAME + "-recorder")


class _Recorder:
    """Collects one session's outcomes and writes them at its end."""

    def __init__(self, report_dir, root):
        self.path = os.path.join(report_dir, "report-%d.json" % os.getpid())
        self.root = os.path.realpath(root)
        self.tests = {}
        self.collection_errors = []
        self.collected = 0
        self.broken = False
        self._pending = {}
        self._inside = {}

    # -- hooks: each one guarded, so a fault here never breaks the project's run; it only withholds the report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item, call):
        if call.excinfo is not None:
            self._pending[(item.nodeid, call.when)] = (call.excinfo, item)

    def pytest_exception_interact(self, node, call, report):
        if isinstance(node, pytest.Collector) and call.excinfo is not None:
            self._pending[(node.nodeid, "collect")] = (call.excinfo, node)

    def pytest_collectreport(self, report):
        pending = self._pending.pop((report.nodeid, "collect"), None)
        if report.failed:
            self._guarded(self._collection_error, report, pending)

    def pytest_collection_finish(self, session):
        self.collected = len(session.items)

    def pytest_runtest_logreport(self, report):
        pending = self._pending.pop((report.nodeid, report.when), None)
        self._guarded(self._test_report, report, pending)

    def pytest_sessionfinish(self, session, exitstatus):
        self._guarded(self._write, int(exitstatus))

    def _guarded(self, function, *args):
        if self.broken:
            return
        try:
            function(*args)
        except Exception:  # noqa: BLE001 - see above
            self.broken = True

    # -- what is recorded

    def _test_report(self, report, pending):
        when = report.when
        nodeid = _nodeid(report.nodeid)
        test = self.tests.get(nodeid)
        if test is None:
            if len(self.tests) >= MAX_TESTS:
                return
            test = self.tests[nodeid] = {"nodeid": nodeid, "outcome": None}
        expected_failure = hasattr(report, "wasxfail")
        if report.failed:
            if test["outcome"] in ("failed", "error"):
                return
            test["outcome"] = "failed" if when == "call" else "error"
            test["phase"] = when
            test.update(self._failure(report, pending))
        elif report.skipped:
            if test["outcome"] is None:
                test["outcome"] = "xfailed" if expected_failure else "skipped"
        elif report.passed and when == "call":
            test["outcome"] = "xpassed" if expected_failure else "passed"

    def _failure(self, report, pending):
        if pending is None:
            # No exception at hand (a report from another process, such as an xdist worker): pytest's own summary.
            crash = getattr(report.longrepr, "reprcrash", None)
            if crash is not None:
                return {"message": _cap(crash.message), "crash": {"path": self._show(crash.path), "line": crash.lineno}, "frames": []}
            return {"message": _cap(str(report.longrepr)), "crash": None, "frames": []}
        excinfo, item = pending
        entries = list(traceback.walk_tb(excinfo.tb))
        start = getattr(getattr(item, "obj", None), "__code__", None)
        starts = [index for index, (frame, _) in enumerate(entries) if frame.f_code is start]
        if starts:
            entries = entries[starts[0]:]
        longrepr = report.longrepr
        if getattr(longrepr, "errorstring", None):
            # A missing fixture's own account ("fixture 'db' not found", the ones available) says more than its exception.
            return {"message": _cap(longrepr.errorstring), "crash": None, "frames": self._frames(entries)}
        if longrepr is not None and not hasattr(longrepr, "reprcrash"):
            # Doctests, `pytest.fail(pytrace=False)` and custom items describe their failure, place included, themselves.
            return {"message": _cap(str(longrepr)), "crash": None, "frames": self._frames(entries)}
        return {"message": _cap(excinfo.exconly()), "crash": self._crash(entries), "frames": self._frames(entries)}

    def _collection_error(self, report, pending):
        error = {"nodeid": _nodeid(report.nodeid), "error": "", "location": None, "frames": []}
        if pending is None:
            error["error"] = _cap(str(report.longrepr))
            self.collection_errors.append(error)
            return
        exc = pending[0].value
        if isinstance(exc, pytest.Collector.CollectError):
            # pytest wraps what went wrong importing a test module; the cause is what the person must see.
            cause = exc.__cause__ or exc.__context__
            if cause is None:
                error["error"] = _cap(str(exc))
                self.collection_errors.append(error)
                return
            exc = cause
        error["error"] = _cap("".join(traceback.format_exception_only(type(exc), exc)).strip())
        entries = list(traceback.walk_tb(exc.__traceback__))
        if isinstance(exc, SyntaxError) and exc.filename:
            error["location"] = {"path": self._show(exc.filename), "line": exc.lineno or 0}
        else:
            inside = [entry for entry in entries if self._inside_path(entry[0].f_code.co_filename) is not None]
            error["location"] = self._crash(inside or entries)
        error["frames"] = self._frames(entries)
        self.collection_errors.append(error)

    def _crash(self, entries):
        """Where the exception was raised: the innermost frame not hidden from tracebacks (as pytest's helpers hide theirs)."""
        for frame, line in reversed(entries):
            if not _hidden(frame):
                return {"path": self._show(frame.f_code.co_filename), "line": line}
        return None

    def _frames(self, entries):
        """The frames in the repository's own files (the test's and the project's), innermost last."""
        kept = []
        for frame, line in entries:
            if _hidden(frame):
                continue
            filename = frame.f_code.co_filename
            path = self._inside_path(filename)
            if path is None:
                continue
            source = linecache.getline(filename, line).strip()
            kept.append({"path": path, "line": line, "function": frame.f_code.co_name, "source": _cap(source, 400)})
        if len(kept) > MAX_FRAMES:
            kept = kept[:2] + kept[-(MAX_FRAMES - 2):]
        return kept

    def _outside_imports(self):
        """Modules the repository defines at its top level or under src/ that were imported from elsewhere."""
        found = []
        for name in sorted(self._repository_names()):
            module = sys.modules.get(name)
            if module is None:
                continue
            origins = [module.__file__] if getattr(module, "__file__", None) else list(getattr(module, "__path__", None) or [])
            if origins and all(self._inside_path(origin) is None for origin in origins):
                found.append({"name": name, "origin": _cap(str(origins[0]), 1000)})
        return found

    def _repository_names(self):
        skip = set(getattr(sys, "stdlib_module_names", ())) | set(sys.builtin_module_names) | {"conftest", NAME}
        names = set()
        for base, needs_init in ((self.root, True), (os.path.join(self.root, "src"), False)):
            try:
                entries = os.listdir(base)
            except OSError:
                continue
            for entry in entries:
                full = os.path.join(base, entry)
                if entry.endswith(".py") and os.path.isfile(full):
                    name = entry[:-3]
                elif os.path.isdir(full) and (not needs_init or os.path.isfile(os.path.join(full, "__init__.py"))):
                    name = entry
                else:
                    continue
                if name.isidentifier() and name not in skip:
                    names.add(name)
        return names

    def _write(self, exit_status):
        document = {
            "schema": SCHEMA,
            "pytest_version": pytest.__version__,
            "python_version": platform.python_version(),
            "exit_status": exit_status,
            "collected": self.collected,
            "tests": [test for test in self.tests.values() if test["outcome"] is not None],
            "collection_errors": self.collection_errors,
            "outside_imports": self._outside_imports(),
        }
        partial = self.path + ".partial"
        with open(partial, "w", encoding="utf-8") as stream:
            json.dump(document, stream, ensure_ascii=True, separators=(",", ":"))
        os.replace(partial, self.path)

    # -- paths

    def _inside_path(self, filename):
        """`filename` relative to the repository when it is the repository's own code; None otherwise
        (outside it, in an installed library even inside it, or not a file at all)."""
        if filename not in self._inside:
            self._inside[filename] = None
            if filename and not filename.startswith("<"):
                real = os.path.realpath(filename)
                if real.startswith(self.root + os.sep):
                    relative = real[len(self.root) + 1:]
                    if not any(part in _LIBRARY_DIRS for part in relative.split(os.sep)):
                        self._inside[filename] = relative.replace(os.sep, "/")
        return self._inside[filename]

    def _show(self, filename):
        return self._inside_path(str(filename)) or _cap(str(filename), 1000)


def _nodeid(nodeid):
    """The id as pytest 4 and later write it: pytest 3 put a `()` node between a class and its tests."""
    return nodeid.replace("::()::", "::")


def _hidden(frame):
    return bool(frame.f_locals.get("__tracebackhide__") or frame.f_globals.get("__tracebackhide__"))


def _cap(text, limit=MAX_TEXT):
    text = str(text)
    if len(text) <= limit:
        return text
    return text[:limit] + "\n[... %d characters cut]" % (len(text) - limit)
