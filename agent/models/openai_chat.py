"""Chat Completions adapter: OpenAI and every OpenAI-compatible server (vLLM, llama.cpp, Ollama).

Tools go either natively (the `tools` parameter) or through the text protocol of `textcalls`; which one is decided
by `tool_mode` ("native", "text" or "auto": try native once, remember what worked).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import openai

from loopwright.messages import Message, ModelResponse, ToolCall, ToolSpec, Usage
from loopwright.model import ModelError, TextHook
from loopwright.models.context import TokenCounter
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
from loopwright.models.textcalls import (
    StreamFilter,
    parse_text_calls,
    render_calls,
    render_result,
    tool_protocol_prompt,
)

ToolMode = Literal["native", "text", "auto"]
_REJECTS_TOOLS = frozenset({400, 404, 422, 501})
"""Statuses that answer a request with tools with a conclusive no."""
_MAY_REJECT_TOOLS = 500
"""llama.cpp without --jinja answers tools with a 500, but so does any server having a bad moment."""


@dataclass
class _Reply:
    content: str = ""
    calls: list[dict[str, str]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    chunks: int = 0
    pieces: int = 0
    """Chunks that carried generated text or call arguments."""


class ChatCompletionsModel:
    """A `Model` over the Chat Completions API."""

    provider = "openai"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        on_text: TextHook | None = None,
        tool_mode: ToolMode = "native",
        timeout: float = 120.0,
        retry: RetryPolicy = RetryPolicy(),
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        tool_choice: str | None = None,
        prices: PriceTable | None = None,
        context_window: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_tool_mode: Callable[[str], None] | None = None,
    ) -> None:
        self.model = model
        self.name = f"{self.provider}:{model}"
        self.base_url = base_url or "https://api.openai.com/v1"
        self.on_text = on_text
        self.tool_mode: ToolMode = tool_mode
        self.retry = retry
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.seed = seed
        self.tool_choice = tool_choice
        self.context_window = context_window or window_for(self.name)
        """Prompt tokens the model accepts; the loop compacts before it is reached (see models.context)."""
        self.prices = prices or PriceTable()
        self._sleep = sleep
        self._on_tool_mode = on_tool_mode
        self._stream_with_tools = True
        self.token_counter = TokenCounter()
        """Learns the server's characters per token from the answers that report usage; the loop's context fitting
        counts with it too (see models.context.fit_for_model)."""
        self._ids = itertools.count(1)
        self._answered = False
        # Our retry loop owns backoff and Retry-After; the SDK's own retries would multiply the waits.
        self._client = openai.OpenAI(
            api_key=api_key or "none",
            base_url=self.base_url,
            timeout=timeout,
            max_retries=0,
            http_client=openai.DefaultHttpxClient(event_hooks=deadline_hooks()),
        )

    # -- the Model protocol ---------------------------------------------------------------------------------------

    def complete(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> ModelResponse:
        if tools and self.tool_mode == "auto":
            probed = self._probe(messages, tools)
            if probed is not None:
                return probed
        mode = "text" if tools and self.tool_mode == "text" else "native"
        return call_with_retries(lambda: self._once(messages, tools, mode), self.retry, sleep=self._sleep)

    # -- tool mode ------------------------------------------------------------------------------------------------

    def _probe(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> ModelResponse | None:
        """First call with tools in auto mode: try native once and settle the mode from what comes back.

        Only a conclusive answer settles it (and is remembered across sessions); after a 500 this turn goes in
        text and the next one probes again."""
        try:
            response = self._once(messages, tools, "native")
        except StatusError as error:
            if error.status in _REJECTS_TOOLS:
                self._settle("text")
                return None
            if error.status == _MAY_REJECT_TOOLS:
                return call_with_retries(lambda: self._once(messages, tools, "text"), self.retry, sleep=self._sleep)
            if error.transient:
                return None
            raise
        if any(call.id.startswith("text_") for call in response.message.tool_calls):
            self._settle("text")
        elif response.message.tool_calls:
            self._settle("native")
        return response

    def _settle(self, mode: ToolMode) -> None:
        self.tool_mode = mode
        if self._on_tool_mode is not None:
            self._on_tool_mode(mode)

    # -- one request ----------------------------------------------------------------------------------------------

    def _once(self, messages: Sequence[Message], tools: Sequence[ToolSpec], mode: str) -> ModelResponse:
        payload = self.request_body(messages, tools, mode)
        stream = self.on_text is not None and (mode == "text" or not tools or self._stream_with_tools)
        try:
            reply = self._request(payload, stream=stream, filter_calls=mode == "text")
            if stream and reply.chunks == 0:
                # Some servers answer a streamed request with tools with an empty body; ask again without streaming.
                self._stream_with_tools = False
                reply = self._request(payload, stream=False, filter_calls=False)
                if reply.content and self.on_text is not None:
                    self.on_text(reply.content)
            prompt, prompt_tools = _prompt_of(payload), tools if mode == "native" else ()
            if reply.usage.input_tokens > 0:
                self.token_counter.observe(prompt, prompt_tools, reply.usage.input_tokens)
            elif stream and reply.usage == Usage():
                reply.usage = self._estimated_usage(prompt, prompt_tools, reply)
            return self._response(reply, tools, mode)
        except MALFORMED_ERRORS as error:
            raise malformed_answer_error(self.name, self.base_url, error) from None

    def _estimated_usage(self, messages: Sequence[Message], tools: Sequence[ToolSpec], reply: _Reply) -> Usage:
        """For servers that stream without usage (llama.cpp ignores include_usage): one token per chunk out, and
        the prompt estimated from its characters (at the ratio learned from the answers that did report usage),
        so limits and the run summary still see the session's size."""
        prompt = self.token_counter.count(messages, tools)
        cost = self.prices.cost(self.provider, self.model, input_tokens=prompt, output_tokens=reply.pieces)
        return Usage(input_tokens=prompt, output_tokens=reply.pieces, cost_usd=cost)

    def request_body(self, messages: Sequence[Message], tools: Sequence[ToolSpec], mode: str) -> dict[str, Any]:
        """The JSON body of one request; `mode` is "native" or "text"."""
        payload: dict[str, Any] = {"model": self.model, "messages": self.wire_messages(messages, tools, mode)}
        if tools and mode == "native":
            payload["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in tools
            ]
            if self.tool_choice in {t.name for t in tools}:
                # Naming the function makes servers like llama.cpp constrain the output to a valid call.
                payload["tool_choice"] = {"type": "function", "function": {"name": self.tool_choice}}
            else:
                # Explicit, because llama.cpp drops the tools altogether when tool_choice is absent.
                payload["tool_choice"] = "auto"
        if self.max_tokens is not None:
            payload["max_tokens"] = self.max_tokens
        if self.temperature is not None:
            payload["temperature"] = self.temperature
        if self.seed is not None:
            payload["seed"] = self.seed
        return payload

    def wire_messages(self, messages: Sequence[Message], tools: Sequence[ToolSpec], mode: str) -> list[dict[str, Any]]:
        """Our messages as Chat Completions dicts; deterministic, so the prompt prefix repeats byte for byte."""
        out: list[dict[str, Any]] = []
        for message in messages:
            if mode == "text" and message.role == "assistant" and message.tool_calls:
                out.append({"role": "assistant", "content": render_calls(message)})
            elif mode == "text" and message.role == "tool":
                out.append({"role": "user", "content": render_result(message)})
            elif message.role == "assistant" and message.tool_calls:
                calls = [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                    for c in message.tool_calls
                ]
                # An empty string, not null: some servers fail on a null content next to tool calls.
                out.append({"role": "assistant", "content": message.content, "tool_calls": calls})
            elif message.role == "tool":
                out.append({"role": "tool", "tool_call_id": message.tool_call_id or "", "content": message.content})
            else:
                out.append({"role": message.role, "content": message.content})
        if tools and mode == "text":
            protocol = tool_protocol_prompt(tools)
            if out and out[0]["role"] == "system":
                out[0] = {"role": "system", "content": out[0]["content"] + "\n\n" + protocol}
            else:
                out.insert(0, {"role": "system", "content": protocol})
        return out

    def _request(self, payload: dict[str, Any], *, stream: bool, filter_calls: bool) -> _Reply:
        try:
            if not stream:
                reply = self._read_whole(self._client.chat.completions.create(**payload))
            else:
                chunks = self._client.chat.completions.create(
                    **payload, stream=True, stream_options={"include_usage": True}
                )
                reply = self._read_stream(chunks, filter_calls)
            self._answered = True
            return reply
        except openai.APIStatusError as error:
            self._answered = True
            raise self._status_error(
                error.status_code, _error_text(error), error.response.headers, bool(payload.get("tools"))
            ) from None
        except openai.APIError as error:
            raise no_answer_error(openai, self.name, self.base_url, error, self._answered) from None
        except TRANSPORT_ERRORS as error:
            raise broken_off_error(self.name, self.base_url, error) from None

    def _status_error(self, status: int, detail: str, headers: Any, with_tools: bool) -> StatusError:
        where = f"{self.base_url} (HTTP {status})"
        if status in (401, 403):
            message = f"{self.name}: authentication failed at {where}: check the API key"
        elif status == 404:
            message = f"{self.name}: model {self.model!r} not found at {where}: {detail}"
        elif with_tools and status in (400, 422) and self.tool_mode == "native":
            message = f"{self.name}: {where} rejected a request with tools: {detail} (if the server has no tool support, use tool mode 'text')"
        else:
            message = f"{self.name}: {where}: {detail}"
        return StatusError(one_line(message, 400), status=status, retry_after=parse_retry_after(headers))

    def _read_whole(self, completion: Any) -> _Reply:
        if isinstance(completion, str):
            # The SDK hands back the text of a body that is not JSON.
            raise StatusError(
                f"{self.name}: {self.base_url} sent an answer that is not JSON: {one_line(completion, 80) or 'an empty body'}",
                transient=False,
            )
        if not completion.choices:
            raise StatusError(f"{self.name}: {self.base_url} sent an answer without choices")
        message = completion.choices[0].message
        calls = [
            {"id": c.id or "", "name": c.function.name, "arguments": c.function.arguments or "{}"}
            for c in (message.tool_calls or [])
            if getattr(c, "function", None) is not None
        ]
        return _Reply(
            content=message.content or "",
            calls=calls,
            usage=self._usage(completion.usage),
            model=completion.model or "",
            chunks=1,
        )

    def _read_stream(self, chunks: Iterable[Any], filter_calls: bool) -> _Reply:
        reply = _Reply()
        by_index: dict[int, dict[str, str]] = {}
        text = StreamFilter(self.on_text, hide_calls=filter_calls) if self.on_text else None
        finished = False
        for chunk in until_deadline(chunks):
            reply.chunks += 1
            reply.model = getattr(chunk, "model", None) or reply.model
            if getattr(chunk, "usage", None) is not None:
                reply.usage = self._usage(chunk.usage)
            for choice in chunk.choices or []:
                finished = finished or bool(choice.finish_reason)
                delta = choice.delta
                if delta.content or delta.tool_calls:
                    reply.pieces += 1
                if delta.content:
                    reply.content += delta.content
                    if text is not None:
                        text.feed(delta.content)
                for part in delta.tool_calls or []:
                    slot = by_index.setdefault(part.index or 0, {"id": "", "name": "", "arguments": ""})
                    slot["id"] = part.id or slot["id"]
                    if part.function is not None:
                        # Set, not append: some servers repeat the name in every chunk.
                        slot["name"] = part.function.name or slot["name"]
                        slot["arguments"] += part.function.arguments or ""
        if text is not None:
            text.close()
        if reply.chunks and not finished:
            raise StatusError(f"{self.name}: {self.base_url} broke off the answer: the stream ended before a finish reason")
        reply.calls = [by_index[i] for i in sorted(by_index)]
        return reply

    def _usage(self, usage: Any) -> Usage:
        if usage is None:
            return Usage()
        details = getattr(usage, "prompt_tokens_details", None)
        cached = (getattr(details, "cached_tokens", None) or 0) if details is not None else 0
        prompt, completion = usage.prompt_tokens or 0, usage.completion_tokens or 0
        cost = self.prices.cost(
            self.provider, self.model, input_tokens=prompt, output_tokens=completion, cached_tokens=cached
        )
        return Usage(input_tokens=prompt, output_tokens=completion, cached_tokens=cached, cost_usd=cost)

    def _response(self, reply: _Reply, tools: Sequence[ToolSpec], mode: str) -> ModelResponse:
        names = [t.name for t in tools]
        calls = tuple(
            ToolCall(id=c["id"] or f"call_{next(self._ids)}", name=c["name"], arguments=c["arguments"] or "{}")
            for c in reply.calls
        )
        content, error = reply.content, None
        if tools and (mode == "text" or not calls):
            # Also in native mode: a model may write its call as text although the server offers native calls.
            parsed = parse_text_calls(content, names)
            if parsed.calls or parsed.error:
                content, error = parsed.content, parsed.error
                calls = tuple(
                    ToolCall(id=f"text_{next(self._ids)}", name=c.name, arguments=c.arguments) for c in parsed.calls
                )
        message = Message(role="assistant", content=content, tool_calls=calls)
        return ModelResponse(message=message, usage=reply.usage, model=reply.model or self.model, format_error=error)


def _error_text(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return one_line(inner["message"])
        if isinstance(inner, str):
            return one_line(inner)
        if body.get("detail"):
            return one_line(json.dumps(body["detail"]) if not isinstance(body["detail"], str) else body["detail"])
    return one_line(error.message)


def require_key(value: str | None, variable: str, provider: str) -> str:
    if not value:
        raise ModelError(f"{provider}: no API key: set {variable} or pass api_key")
    return value


def _prompt_of(payload: dict[str, Any]) -> list[Message]:
    """The request's messages as the server sees them (text protocol included), for counting their characters."""
    return [
        Message(
            role=m["role"],
            content=m.get("content") or "",
            tool_calls=tuple(
                ToolCall(id=c["id"], name=c["function"]["name"], arguments=c["function"]["arguments"])
                for c in m.get("tool_calls") or ()
            ),
        )
        for m in payload["messages"]
    ]
