"""Known secret values never leave in anything we post: replies, commit messages, logs."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping

SECRET_NAMES = frozenset(
    {
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "INPUT_GITHUB_TOKEN",
        "INPUT_GITHUB-TOKEN",
        "ACTIONS_RUNTIME_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "LOOPWRIGHT_LOCAL_API_KEY",
    }
)
_SECRET_SUFFIX = re.compile(r"(_API_KEY|_TOKEN|_SECRET|_PASSWORD|-API-KEY|-TOKEN)$", re.I)
MIN_SECRET_LENGTH = 6
"""Shorter values are too likely to occur by chance and would mangle replies."""
MASK = "***"


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of the environment variables that hold credentials, by known name or by naming pattern."""
    found = {value for name, value in env.items() if (name.upper() in SECRET_NAMES or _SECRET_SUFFIX.search(name)) and len(value) >= MIN_SECRET_LENGTH}
    return sorted(found, key=len, reverse=True)


class Redactor:
    """Replaces each secret, and the encodings git and HTTP carry it in, with a mask."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for value in secrets:
            if len(value) < MIN_SECRET_LENGTH:
                continue
            forms.add(value)
            forms.add(base64.b64encode(value.encode()).decode())
            forms.add(base64.b64encode(f"x-access-token:{value}".encode()).decode())
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, MASK)
        return text

    def leaks(self, text: str) -> bool:
        return any(form in text for form in self._forms)
