"""Anthropic Messages adapter: native tool use, and cache breakpoints on the stable prefix."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import anthropic

from loopwright.messages import Message, ModelResponse, ToolCall, ToolSpec, Usage
from loopwright.model import TextHook
from loopwright.models.context import context_window as window_for
from loopwright.models.httpguard import TRANSPORT_ERRORS, deadline_hooks, until_deadline
from loopwright.models.pricing import PriceTable
from loopwright.models.retry import (
    MALFORMED_ERRORS,
    RetryPolicy,
    StatusError,
    broken_off_error,
    call_with_retries,
    malformed_answer_error,
    no_answer_error,
    one_line,
    parse_retry_after,
)

_CACHE = {"type": "ephemeral"}


class AnthropicModel:
    provider = "anthropic"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        on_text: TextHook | None = None,
        timeout: float = 300.0,
        retry: RetryPolicy = RetryPolicy(),
        max_tokens: int = 8192,
        temperature: float | None = None,
        prompt_caching: bool = True,
        prices: PriceTable | None = None,
        context_window: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.model = model
        self.name = f"anthropic:{model}"
        self.base_url = base_url or "https://api.anthropic.com"
        self.on_text = on_text
        self.retry = retry
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.prompt_caching = prompt_caching
        self.context_window = context_window or window_for(self.name)
        """Prompt tokens the model accepts; the loop compacts before it is reached (see models.context)."""
        self.prices = prices or PriceTable()
        self._sleep = sleep
        self._ids = itertools.count(1)
        self._answered = False
        self._client = anthropic.Anthropic(
            api_key=api_key or "none",
            base_url=self.base_url,
            timeout=timeout,
            max_retries=0,
            http_client=anthropic.DefaultHttpxClient(event_hooks=deadline_hooks()),
        )

    def complete(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> ModelResponse:
        payload = self._payload(messages, tools)
        return call_with_retries(lambda: self._once(payload), self.retry, sleep=self._sleep)

    # -- request ----------------------------------------------------------------------------------------------------

    def _payload(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> dict[str, Any]:
        system: list[dict[str, Any]] = [{"type": "text", "text": m.content} for m in messages if m.role == "system" and m.content]
        wire = self.wire_messages([m for m in messages if m.role != "system"])
        wire_tools: list[dict[str, Any]] = [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools]
        if self.prompt_caching:
            # Three breakpoints: tools, system, and the newest turn, so each step reads the whole earlier history.
            for blocks in (wire_tools, system):
                if blocks:
                    blocks[-1] = {**blocks[-1], "cache_control": _CACHE}
            if wire and isinstance(wire[-1]["content"], list) and wire[-1]["content"]:
                wire[-1]["content"][-1] = {**wire[-1]["content"][-1], "cache_control": _CACHE}
        payload: dict[str, Any] = {"model": self.model, "max_tokens": self.max_tokens, "messages": wire}
        if system:
            payload["system"] = system
        if wire_tools:
            payload["tools"] = wire_tools
        if self.temperature is not None:
            payload["temperature"] = self.temperature
        return payload

    @staticmethod
    def wire_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
        """Our messages as Anthropic turns: tool results ride in user turns, and turns of one role are merged."""
        out: list[dict[str, Any]] = []
        for message in messages:
            blocks: list[dict[str, Any]]
            if message.role == "tool":
                role = "user"
                blocks = [
                    {"type": "tool_result", "tool_use_id": message.tool_call_id or "", "content": message.content}
                ]
            elif message.role == "assistant":
                role = "assistant"
                blocks = [{"type": "text", "text": message.content}] if message.content else []
                blocks += [
                    {"type": "tool_use", "id": c.id, "name": c.name, "input": _input(c.arguments)}
                    for c in message.tool_calls
                ]
            else:
                role = "user"
                blocks = [{"type": "text", "text": message.content or "(empty)"}]
            if out and out[-1]["role"] == role:
                out[-1]["content"].extend(blocks)
            else:
                out.append({"role": role, "content": blocks})
        return out

    def _once(self, payload: dict[str, Any]) -> ModelResponse:
        try:
            if self.on_text is None:
                response = self._from_message(self._client.messages.create(**payload))
            else:
                response = self._from_events(self._client.messages.create(**payload, stream=True))
            self._answered = True
            return response
        except anthropic.APIStatusError as error:
            self._answered = True
            raise self._status_error(error) from None
        except anthropic.APIError as error:
            raise no_answer_error(anthropic, self.name, self.base_url, error, self._answered) from None
        except TRANSPORT_ERRORS as error:
            raise broken_off_error(self.name, self.base_url, error) from None
        except MALFORMED_ERRORS as error:
            raise malformed_answer_error(self.name, self.base_url, error) from None

    def _status_error(self, error: anthropic.APIStatusError) -> StatusError:
        status = error.status_code
        detail = _error_text(error)
        where = f"{self.base_url} (HTTP {status})"
        if status in (401, 403):
            message = f"{self.name}: authentication failed at {where}: check ANTHROPIC_API_KEY"
        elif status == 404:
            message = f"{self.name}: model {self.model!r} not found at {where}: {detail}"
        else:
            message = f"{self.name}: {where}: {detail}"
        return StatusError(one_line(message, 400), status=status, retry_after=parse_retry_after(error.response.headers))

    # -- response ---------------------------------------------------------------------------------------------------

    def _from_message(self, message: Any) -> ModelResponse:
        if isinstance(message, str):
            # The SDK hands back the text of a body that is not JSON.
            raise StatusError(
                f"{self.name}: {self.base_url} sent an answer that is not JSON: {one_line(message, 80) or 'an empty body'}",
                transient=False,
            )
        text, calls = [], []
        for block in message.content:
            if block.type == "text":
                text.append(block.text)
            elif block.type == "tool_use":
                calls.append(ToolCall(id=block.id, name=block.name, arguments=json.dumps(block.input)))
        return self._response("".join(text), calls, _usage_dict(message.usage), message.model)

    def _from_events(self, events: Iterable[Any]) -> ModelResponse:
        blocks: dict[int, dict[str, Any]] = {}
        usage: dict[str, int] = {}
        model = ""
        stopped = False
        for event in until_deadline(events):
            stopped = stopped or event.type == "message_stop"
            if event.type == "message_start":
                model = event.message.model
                usage.update(_usage_dict(event.message.usage))
            elif event.type == "content_block_start":
                block = event.content_block
                blocks[event.index] = {
                    "type": block.type,
                    "text": "",
                    "json": "",
                    "id": getattr(block, "id", ""),
                    "name": getattr(block, "name", ""),
                }
            elif event.type == "content_block_delta":
                slot = blocks.setdefault(event.index, {"type": "text", "text": "", "json": "", "id": "", "name": ""})
                if event.delta.type == "text_delta":
                    slot["text"] += event.delta.text
                    if self.on_text is not None:
                        self.on_text(event.delta.text)
                elif event.delta.type == "input_json_delta":
                    slot["json"] += event.delta.partial_json
            elif event.type == "message_delta" and event.usage is not None:
                usage.update({k: v for k, v in _usage_dict(event.usage).items() if v})
        if not blocks and not usage:
            raise StatusError(f"{self.name}: {self.base_url} sent an empty stream")
        if not stopped:
            raise StatusError(f"{self.name}: {self.base_url} broke off the answer: the stream ended before message_stop")
        text = "".join(b["text"] for _, b in sorted(blocks.items()) if b["type"] == "text")
        calls = [
            ToolCall(id=b["id"] or f"toolu_{next(self._ids)}", name=b["name"], arguments=b["json"] or "{}")
            for _, b in sorted(blocks.items())
            if b["type"] == "tool_use"
        ]
        return self._response(text, calls, usage, model)

    def _response(self, text: str, calls: list[ToolCall], usage: dict[str, int], model: str) -> ModelResponse:
        read, write = usage.get("cache_read_input_tokens", 0), usage.get("cache_creation_input_tokens", 0)
        prompt = usage.get("input_tokens", 0) + read + write
        output = usage.get("output_tokens", 0)
        cost = self.prices.cost(
            "anthropic",
            self.model,
            input_tokens=prompt,
            output_tokens=output,
            cached_tokens=read,
            cache_write_tokens=write,
        )
        return ModelResponse(
            message=Message(role="assistant", content=text, tool_calls=tuple(calls)),
            usage=Usage(input_tokens=prompt, output_tokens=output, cached_tokens=read, cost_usd=cost),
            model=model or self.model,
        )


def _usage_dict(usage: Any) -> dict[str, int]:
    if usage is None:
        return {}
    names = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    return {name: int(getattr(usage, name, 0) or 0) for name in names}


def _input(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments)
    except ValueError:
        return {"invalid_json": arguments}
    return value if isinstance(value, dict) else {"value": value}


def _error_text(error: anthropic.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict) and body["error"].get("message"):
        return one_line(body["error"]["message"])
    return one_line(error.message)
