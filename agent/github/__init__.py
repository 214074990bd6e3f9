"""The outer loop on GitHub: a comment on a pull request becomes one unattended, sandboxed run and a reply."""
