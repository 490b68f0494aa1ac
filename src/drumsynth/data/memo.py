"""Memoised per-split features: decode and analyse a cache split once per process.

A family's ``build_recipe`` (statistics, gains, PCA) and ``data_factories`` (batches) both need the
training split's features; :func:`split_memo` makes the second call free. The key is the cache
folder, its size, the split and every setting of the family's data config.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from drumsynth.data.cache import Cache

T = TypeVar("T")


class SplitKey:
    """Hashable stand-in for (cache, split, data config): lru_cache needs hashable arguments."""

    def __init__(self, cache: Cache, split: str, data: Any) -> None:
        self.cache, self.split, self.data = cache, split, data
        settings = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(vars(data).items()))
        self.key = (str(cache.root), len(cache), split, settings)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SplitKey) and other.key == self.key


def split_memo(build: Callable[[Cache, str, Any], T], maxsize: int = 4) -> Callable[[Cache, str, Any], T]:
    """``build(cache, split, data)`` memoised on (cache folder, size, split, data settings)."""
    cached = functools.lru_cache(maxsize=maxsize)(lambda key: build(key.cache, key.split, key.data))

    @functools.wraps(build)
    def memoised(cache: Cache, split: str, data: Any) -> T:
        return cached(SplitKey(cache, split, data))

    return memoised
