"""`loopwright bench`: SWE-bench-format tasks run end to end through loopwright's own sandbox, test runner and
edit tools: check out the base commit, set up the environment, run the tests before and after a fix (the
reference patch with `--oracle`, the agent with `--model`), and report what resolved and why not."""
