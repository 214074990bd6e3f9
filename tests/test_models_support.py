"""Retry policy, prices, context compaction, model specs and the local model package."""

from __future__ import annotations

import hashlib
from email.utils import format_datetime
from datetime import datetime, timedelta, UTC

import pytest

from loopwright.messages import Message, ToolCall
from loopwright.model import ModelError
from loopwright.models.context import TokenCounter, context_window, fit_to_window
from loopwright.models.localmodel import join_verified, resolve_model
from loopwright.models.pricing import Price, PriceTable
from loopwright.models.retry import RetryPolicy, StatusError, call_with_retries, parse_retry_after
from loopwright.models.spec import default_model_spec, parse_spec, ModelSpec


# -- retry ------------------------------------------------------------------------------------------------------------


def test_retry_after_forms():
    assert parse_retry_after({"Retry-After": "12"}) == 12.0
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < parse_retry_after({"Retry-After": later}) <= 30
    assert parse_retry_after({"Retry-After": "soon"}) is None and parse_retry_after({}) is None


def test_backoff_doubles_within_jitter_and_is_capped():
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)
    assert [policy.delay(n, None, rng=lambda: 1.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert [policy.delay(n, None, rng=lambda: 0.0) for n in (1, 2)] == [0.5, 1.0]


def test_permanent_errors_are_not_retried_and_transient_ones_are():
    tries = []

    def flaky():
        tries.append(1)
        if len(tries) < 3:
            raise StatusError("busy", status=503)
        return "ok"

    waits: list[float] = []
    assert call_with_retries(flaky, RetryPolicy(attempts=3, base_delay=0.01), sleep=waits.append) == "ok"
    assert len(waits) == 2

    def denied():
        raise StatusError("denied", status=403)

    with pytest.raises(StatusError, match="denied"):
        call_with_retries(denied, RetryPolicy(), sleep=waits.append)


def test_a_very_long_retry_after_ends_the_retries():
    def limited():
        raise StatusError("quota", status=429, retry_after=3600)

    with pytest.raises(ModelError, match="the server asks to wait 3600s; giving up"):
        call_with_retries(limited, RetryPolicy(), sleep=lambda s: None)


# -- prices -----------------------------------------------------------------------------------------------------------


def test_price_lookup_by_family_and_custom_prices():
    table = PriceTable()
    assert table.lookup("openai", "gpt-5-2025-08-07") == table.lookup("openai", "gpt-5")
    assert table.lookup("openai", "gpt-5-mini-2025-08-07") == table.lookup("openai", "gpt-5-mini")
    assert table.lookup("openai", "some-new-model") is None
    assert table.cost("local", "qwen", input_tokens=10**6, output_tokens=10**6) == 0.0
    custom = PriceTable({"openai:my-model": Price(input=2, output=4)})
    assert custom.cost("openai", "my-model", input_tokens=500_000, output_tokens=250_000) == pytest.approx(2.0)


# -- context ----------------------------------------------------------------------------------------------------------


def _session(turns: int) -> list[Message]:
    messages = [Message.system("system prompt"), Message.user("the task: fix add()")]
    for n in range(turns):
        call = ToolCall(id=f"c{n}", name="read_file", arguments=f'{{"path": "f{n}.py"}}')
        messages.append(Message(role="assistant", content=f"step {n}", tool_calls=(call,)))
        messages.append(Message.tool(call, f"result {n}\n" + "x" * 400))
    return messages


def test_conversation_that_fits_is_left_alone():
    assert fit_to_window(_session(2), window=10_000, reserve_output=1000) is None


def test_compaction_keeps_system_task_and_recent_turns_and_says_so():
    messages = _session(20)
    counter = TokenCounter(chars_per_token=4)
    compacted = fit_to_window(messages, window=2000, reserve_output=500, keep_recent=6, counter=counter)
    kept = compacted.messages
    assert kept[:2] == tuple(messages[:2])
    assert kept[-6:] == tuple(messages[-6:])
    summary = kept[2]
    assert summary.role == "user" and summary.content.startswith("[context compacted: ")
    assert "called read_file" in summary.content and "result 0" in summary.content
    assert compacted.summarized == len(messages) - 2 - 6 and "summarized" in compacted.note
    assert counter.count(kept) <= 1500


def test_compaction_never_orphans_a_tool_result():
    compacted = fit_to_window(_session(20), window=2000, reserve_output=500, keep_recent=5, counter=TokenCounter(4))
    first_kept = compacted.messages[3]
    assert first_kept.role == "assistant" and first_kept.tool_calls


def test_too_big_even_after_compaction_is_a_clear_error():
    messages = [Message.system("s" * 40_000), Message.user("task"), *(_session(3)[2:])]
    with pytest.raises(ModelError, match="does not fit the model's 2000-token window"):
        fit_to_window(messages, window=2000, reserve_output=500)


def test_counter_learns_from_the_server():
    counter = TokenCounter()
    messages = _session(3)
    counter.observe(messages, [], input_tokens=500)
    assert abs(counter.count(messages) - 500) <= 1
    assert context_window("anthropic:claude-sonnet-4-5-20250929") == 200_000


# -- specs ------------------------------------------------------------------------------------------------------------


def test_parse_specs():
    assert parse_spec("openai:gpt-5") == ModelSpec("openai", "gpt-5")
    assert parse_spec("local:qwen2.5-coder@http://gpu-box:8000/v1") == ModelSpec(
        "local", "qwen2.5-coder", "http://gpu-box:8000/v1"
    )
    assert parse_spec("local:@http://h:1/v1") == ModelSpec("local", "", "http://h:1/v1")
    for bad, reason in [
        ("gpt-5", "PROVIDER:MODEL"),
        ("bedrock:x", "PROVIDER:MODEL"),
        ("openai:", "name the model"),
        ("local:q@gpu-box", "http"),
    ]:
        with pytest.raises(ModelError, match=reason):
            parse_spec(bad)


def test_default_spec_follows_the_keys():
    assert default_model_spec({"OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k"}) == "openai:gpt-5"
    assert default_model_spec({"ANTHROPIC_API_KEY": "k"}) == "anthropic:claude-sonnet-4-5"
    assert (
        default_model_spec({"LOOPWRIGHT_MODEL": "local:m@http://h:1/v1", "OPENAI_API_KEY": "k"})
        == "local:m@http://h:1/v1"
    )
    assert default_model_spec({"LOOPWRIGHT_LOCAL_PORT": "8123"}, start_local=False) == "local:@http://127.0.0.1:8123/v1"


# -- the local model package ------------------------------------------------------------------------------------------


def test_split_model_is_joined_and_verified(tmp_path):
    parts = []
    for n, data in enumerate([b"GGUF" + b"a" * 1000, b"b" * 3000, b"c" * 10]):
        parts.append(tmp_path / f"part{n:02d}.bin")
        parts[-1].write_bytes(data)
    whole = b"".join(p.read_bytes() for p in parts)
    target = tmp_path / "cache" / "model.gguf"
    assert join_verified(parts, target, sha256=hashlib.sha256(whole).hexdigest(), size=len(whole)).read_bytes() == whole
    other = tmp_path / "cache" / "other.gguf"
    with pytest.raises(ModelError, match="wrong sha256"):
        join_verified(parts, other, sha256="0" * 64, size=len(whole))
    assert sorted(p.name for p in other.parent.iterdir()) == ["model.gguf"]


def test_resolve_model_names_what_is_wrong(tmp_path):
    with pytest.raises(ModelError, match="model file not found"):
        resolve_model(str(tmp_path / "missing.gguf"))
    with pytest.raises(ModelError, match="unknown local model 'gpt-9'"):
        resolve_model("gpt-9")


def test_only_the_adapters_import_provider_sdks():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    allowed = {"openai": {"agent/models/openai_chat.py"}, "anthropic": {"agent/models/anthropic_messages.py"}}
    found: dict[str, set[str]] = {"openai": set(), "anthropic": set()}
    for folder in ("agent", "tools", "sandboxes"):
        for path in (root / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if top in found:
                        found[top].add(path.relative_to(root).as_posix())
    assert found == allowed


def test_the_loops_context_fitting_counts_at_the_ratio_the_models_server_showed():
    """A server that counts one token per character (a small model's tokenizer on code) overflows a window that the
    default estimate of 3.5 characters per token would call roomy: the fitting must use what the server reported."""
    from types import SimpleNamespace

    from loopwright.models.context import fit_for_model

    messages = _session(8)
    learned = TokenCounter()
    learned.observe(messages, (), TokenCounter.characters(messages))  # the server said: one token per character
    window = 4096 + TokenCounter.characters(messages) // 2
    assert fit_for_model(SimpleNamespace(context_window=window), messages, ()) is None
    fitted = fit_for_model(SimpleNamespace(context_window=window, token_counter=learned), messages, ())
    assert fitted is not None and len(fitted.messages) < len(messages)
