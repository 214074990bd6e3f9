"""A model on the user's own OpenAI-compatible server (vLLM, llama.cpp, Ollama): nothing leaves the building."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from loopwright.deadline import Deadline, DeadlinePassed, bounded
from loopwright.messages import Message, ModelResponse, ToolSpec
from loopwright.model import ModelError
from loopwright.models.httpguard import deadline_hooks
from loopwright.models.openai_chat import ChatCompletionsModel, ToolMode
from loopwright.models.retry import one_line

_NEUTRAL_SYSTEM = "You are a helpful assistant."


class ToolModeMemory:
    """Remembers per server and model whether native tool calls work, so the probe runs once, not once a session."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path

    def _read(self) -> dict[str, str]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> ToolMode | None:
        remembered: dict[str, ToolMode] = {"native": "native", "text": "text"}
        return remembered.get(self._read().get(key, ""))

    def put(self, key: str, mode: str) -> None:
        if self.path is None:
            return
        data = {**self._read(), key: mode}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
            tmp.replace(self.path)
        except OSError:
            pass  # A cache that cannot be written only costs one more probe next session.


def default_memory_path() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "loopwright" / "tool_modes.json"


def served_models(base_url: str, *, api_key: str | None = None, timeout: float = 10.0) -> list[str]:
    """The model ids an OpenAI-compatible server lists at /models, within `timeout` seconds in all."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    url = base_url.rstrip("/") + "/models"

    def fetch() -> httpx.Response:
        with httpx.Client(timeout=timeout, event_hooks=deadline_hooks()) as client:
            return client.get(url, headers=headers)

    try:
        answer = bounded(Deadline.after(timeout), fetch)
    except DeadlinePassed:
        raise ModelError(f"{url} did not answer within {timeout:g}s") from None
    except httpx.HTTPError as error:
        raise ModelError(f"cannot reach {base_url}: {one_line(error) or type(error).__name__}") from None
    if answer.status_code in (401, 403):
        raise ModelError(f"{base_url}: authentication failed (HTTP {answer.status_code}): check the API key")
    if answer.status_code != 200:
        raise ModelError(f"{base_url} does not list models (HTTP {answer.status_code} from {url})")
    try:
        return [str(item["id"]) for item in answer.json()["data"]]
    except (ValueError, KeyError, TypeError):
        raise ModelError(f"{url} did not answer like an OpenAI-compatible server") from None


class LocalModel(ChatCompletionsModel):
    provider = "local"

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        tool_mode: ToolMode = "auto",
        timeout: float = 600.0,
        memory: ToolModeMemory | None = None,
        check_model: bool = True,
        **options: Any,
    ) -> None:
        self.memory = memory or ToolModeMemory(None)
        self._check_model = check_model
        self._checked = False
        self._api_key = options.get("api_key")
        key = f"{base_url.rstrip('/')}|{model}"
        if tool_mode == "auto":
            tool_mode = self.memory.get(key) or "auto"
        super().__init__(
            model,
            base_url=base_url,
            tool_mode=tool_mode,
            timeout=timeout,
            on_tool_mode=lambda mode: self.memory.put(key, mode),
            **options,
        )

    def complete(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> ModelResponse:
        if self._check_model and not self._checked:
            self._verify_model()
        return super().complete(messages, tools)

    def _verify_model(self) -> None:
        """An unknown name would otherwise be served silently by whatever model a single-model server holds."""
        offered = served_models(self.base_url, api_key=self._api_key)
        if self.model not in offered:
            listing = ", ".join(offered) or "nothing"
            raise ModelError(
                f"model {self.model!r} is not served at {self.base_url} (it offers: {one_line(listing, 200)})"
            )
        self._checked = True

    def wire_messages(self, messages: Sequence[Message], tools: Sequence[ToolSpec], mode: str) -> list[dict[str, Any]]:
        out = super().wire_messages(messages, tools, mode)
        if tools and mode == "native" and not (out and out[0]["role"] == "system"):
            # llama.cpp shows the tool definitions to the model only when the request has a system message.
            out.insert(0, {"role": "system", "content": _NEUTRAL_SYSTEM})
        return out
