"""Model spec strings (`openai:gpt-5`, `anthropic:claude-sonnet-4-5`, `local:NAME@URL`) and the default choice."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loopwright.model import Model, ModelError, TextHook
from loopwright.models.local import LocalModel, ToolModeMemory, default_memory_path, served_models
from loopwright.models.serve import DEFAULT_HOST, DEFAULT_PORT, answering_models, base_url_for, ensure_local_server

PROVIDERS = ("openai", "anthropic", "local")
DEFAULT_MODELS = {"openai": "gpt-5", "anthropic": "claude-sonnet-4-5"}


@dataclass(frozen=True)
class ModelSpec:
    provider: str
    model: str
    """Empty for `local:@URL`: the one model the server offers."""
    base_url: str | None = None

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}" + (f"@{self.base_url}" if self.base_url else "")


def parse_spec(spec: str) -> ModelSpec:
    text = spec.strip()
    provider, colon, rest = text.partition(":")
    if not colon or provider not in PROVIDERS:
        raise ModelError(
            f"bad model spec {spec!r}: expected PROVIDER:MODEL[@BASE_URL] with PROVIDER one of {', '.join(PROVIDERS)}"
        )
    model, at, base_url = rest.partition("@")
    model, base_url = model.strip(), base_url.strip()
    if at and not base_url.startswith(("http://", "https://")):
        raise ModelError(f"bad model spec {spec!r}: the part after @ must be an http(s) URL")
    if not model and provider != "local":
        raise ModelError(f"bad model spec {spec!r}: name the model, e.g. {provider}:{DEFAULT_MODELS[provider]}")
    return ModelSpec(provider, model, base_url or None)


def build_model(
    spec: str, *, on_text: TextHook | None = None, env: Mapping[str, str] | None = None, **options: Any
) -> Model:
    """A ready `Model` for a spec. Options go to the adapter (timeout, retry, max_tokens, temperature, tool_mode...)."""
    env = os.environ if env is None else env
    parsed = parse_spec(spec)
    if parsed.provider == "openai":
        from loopwright.models.openai_chat import ChatCompletionsModel, require_key

        key = options.pop("api_key", None) or env.get("OPENAI_API_KEY")
        base_url = parsed.base_url or options.pop("base_url", None) or env.get("OPENAI_BASE_URL")
        # A custom endpoint (a proxy, a gateway) may not want a key; api.openai.com always does.
        key = key if base_url else require_key(key, "OPENAI_API_KEY", "openai")
        return ChatCompletionsModel(parsed.model, api_key=key, base_url=base_url, on_text=on_text, **options)
    if parsed.provider == "anthropic":
        from loopwright.models.anthropic_messages import AnthropicModel
        from loopwright.models.openai_chat import require_key

        options.pop("tool_mode", None)  # the Messages API always takes native tool use
        key = options.pop("api_key", None) or env.get("ANTHROPIC_API_KEY")
        base_url = parsed.base_url or options.pop("base_url", None) or env.get("ANTHROPIC_BASE_URL")
        key = key if base_url else require_key(key, "ANTHROPIC_API_KEY", "anthropic")
        return AnthropicModel(parsed.model, api_key=key, base_url=base_url, on_text=on_text, **options)
    base_url = parsed.base_url or options.pop("base_url", None) or base_url_for(DEFAULT_HOST, DEFAULT_PORT)
    key = options.pop("api_key", None) or env.get("LOOPWRIGHT_LOCAL_API_KEY")
    model = parsed.model or _only_model(base_url, key)
    options.setdefault("memory", ToolModeMemory(default_memory_path()))
    return LocalModel(model, base_url=base_url, api_key=key, on_text=on_text, **options)


def _only_model(base_url: str, api_key: str | None) -> str:
    offered = served_models(base_url, api_key=api_key)
    if len(offered) != 1:
        raise ModelError(
            f"{base_url} offers {len(offered)} models ({', '.join(offered)}): name one as local:NAME@{base_url}"
        )
    return offered[0]


def default_model_spec(
    env: Mapping[str, str] | None = None, *, start_local: bool = True, port: int | None = None
) -> str:
    """LOOPWRIGHT_MODEL if set; else OpenAI or Anthropic when their key is set; else the local model.

    For the local model this reuses a server answering on the port (LOOPWRIGHT_LOCAL_PORT, default 8080) or starts
    llama.cpp there with the best installed small model; `start_local=False` only names the spec.
    """
    env = os.environ if env is None else env
    if env.get("LOOPWRIGHT_MODEL"):
        return env["LOOPWRIGHT_MODEL"]
    if env.get("OPENAI_API_KEY"):
        return f"openai:{DEFAULT_MODELS['openai']}"
    if env.get("ANTHROPIC_API_KEY"):
        return f"anthropic:{DEFAULT_MODELS['anthropic']}"
    chosen_port = port or _port(env.get("LOOPWRIGHT_LOCAL_PORT"))
    base_url = ensure_local_server(port=chosen_port) if start_local else base_url_for(DEFAULT_HOST, chosen_port)
    offered = answering_models(base_url) if start_local else None
    return f"local:{offered[0] if offered else ''}@{base_url}"


def _port(value: str | None) -> int:
    if not value:
        return DEFAULT_PORT
    try:
        return int(value)
    except ValueError:
        raise ModelError(f"LOOPWRIGHT_LOCAL_PORT must be a port number, not {value!r}") from None
