"""What tokens cost, per model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens."""

    input: float
    output: float
    cached_input: float | None = None
    """Prompt tokens read from the provider's cache; None: billed as input."""
    cache_write: float | None = None
    """Prompt tokens written to the cache (Anthropic); None: billed as input."""


# Public list prices per million tokens.
DEFAULT_PRICES: dict[str, Price] = {
    "openai:gpt-5": Price(1.25, 10.0, cached_input=0.125),
    "openai:gpt-5-mini": Price(0.25, 2.0, cached_input=0.025),
    "openai:gpt-5-nano": Price(0.05, 0.40, cached_input=0.005),
    "openai:gpt-4.1": Price(2.0, 8.0, cached_input=0.50),
    "openai:gpt-4.1-mini": Price(0.40, 1.60, cached_input=0.10),
    "openai:gpt-4o": Price(2.50, 10.0, cached_input=1.25),
    "openai:gpt-4o-mini": Price(0.15, 0.60, cached_input=0.075),
    "anthropic:claude-opus-4-1": Price(15.0, 75.0, cached_input=1.50, cache_write=18.75),
    "anthropic:claude-sonnet-4-5": Price(3.0, 15.0, cached_input=0.30, cache_write=3.75),
    "anthropic:claude-sonnet-4": Price(3.0, 15.0, cached_input=0.30, cache_write=3.75),
    "anthropic:claude-haiku-4-5": Price(1.0, 5.0, cached_input=0.10, cache_write=1.25),
}


class PriceTable:
    """Looks a model up by `provider:model`, also when the model name carries a date suffix."""

    def __init__(self, prices: Mapping[str, Price] | None = None) -> None:
        self._prices = dict(DEFAULT_PRICES if prices is None else prices)

    def lookup(self, provider: str, model: str) -> Price | None:
        if provider == "local":
            return Price(0.0, 0.0)
        key = f"{provider}:{model}"
        if key in self._prices:
            return self._prices[key]
        # "claude-sonnet-4-5-20250929" and "gpt-5-2025-08-07" are priced as their family; the longest match wins.
        candidates = [k for k in self._prices if key.startswith(k + "-")]
        return self._prices[max(candidates, key=len)] if candidates else None

    def cost(
        self,
        provider: str,
        model: str,
        *,
        input_tokens: int,
        output_tokens: int,
        cached_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> float | None:
        """Dollars for one call; `input_tokens` counts all prompt tokens, cached and cache-written ones included."""
        price = self.lookup(provider, model)
        if price is None:
            return None
        cached_rate = price.input if price.cached_input is None else price.cached_input
        write_rate = price.input if price.cache_write is None else price.cache_write
        plain = max(input_tokens - cached_tokens - cache_write_tokens, 0)
        total = (
            plain * price.input
            + cached_tokens * cached_rate
            + cache_write_tokens * write_rate
            + output_tokens * price.output
        )
        return total / 1_000_000

