"""Which key each request touches: uniform, Zipf or a hotspot over ``data.keys`` keys, and a
fresh key for every insert.

A key is drawn from one generator per call, vectorised: uniform keys are integers; Zipf keys
invert a table of the cumulative weights (up to :data:`ZIPF_TABLE_KEYS` keys) or sample by
rejection-inversion beyond; hotspot keys turn one uniform into a key of the hot set (with
probability ``share_of_traffic``) or of the cold set, uniformly within each (YCSB's hotspot
generator). Inserts take keys ``data.keys, data.keys + 1, ...`` in the order the workload
hands them out, so no insert reuses a key and no read or update reaches one.

Left out: sessions (a user staying on its keys), keys whose popularity drifts over time.
"""

from __future__ import annotations

import numpy as np

from sim.config.sections import DataConfig, HotspotKeys, ZipfKeys

__all__ = ["ZIPF_TABLE_KEYS", "KeyDrawer", "draw_keys", "keys_from_uniforms", "zipf_ranks"]

ZIPF_TABLE_KEYS = 1_000_000
"""Up to this many keys a zipf draw inverts a table of the cumulative weights (exact, 8 bytes
per key); beyond, it samples by rejection-inversion, in memory independent of the key count."""


def _h_integral(x: np.ndarray, s: float) -> np.ndarray:
    """∫ from 1 to x of t^-s dt, continuous in s (log x at s = 1)."""
    log_x = np.log(x)
    t = (1.0 - s) * log_x
    small = np.abs(t) < 1e-8
    return np.where(
        small,
        log_x * (1 + t / 2),
        np.expm1(np.where(small, 0.0, t)) / np.where(small, 1.0, 1.0 - s),
    )


def _h_integral_inverse(y: np.ndarray, s: float) -> np.ndarray:
    t = y * (1.0 - s)
    small = np.abs(t) < 1e-8
    safe = np.where(small, 0.0, t)
    return np.where(
        small,
        np.exp(y * (1 - t / 2)),
        np.exp(np.log1p(np.maximum(safe, -1 + 1e-300)) / np.where(small, 1.0, 1.0 - s)),
    )


def zipf_ranks(n: int, s: float, count: int, generator: np.random.Generator) -> np.ndarray:
    """``count`` ranks in 1..n with P(k) ∝ k^-s, by rejection-inversion (Hörmann and
    Derflinger, "Rejection-inversion to generate variates from monotone discrete
    distributions", 1996): invert the integral of the density's hat, accept when the point
    falls under the bar of its rank. About 1.1 uniforms per rank, whatever n."""
    out = np.empty(count, dtype=np.int64)
    top = float(_h_integral(np.array([n + 0.5]), s)[0])
    bottom = float(_h_integral(np.array([1.5]), s)[0]) - 1.0
    squeeze = 2.0 - float(_h_integral_inverse(_h_integral(np.array([2.5]), s) - 2.0**-s, s)[0])
    filled = 0
    while filled < count:
        want = count - filled
        u = top + generator.random(want + want // 8 + 16) * (bottom - top)
        x = _h_integral_inverse(u, s)
        k = np.clip(np.floor(x + 0.5), 1, n)
        accept = (k - x <= squeeze) | (u >= _h_integral(k + 0.5, s) - k**-s)
        found = k[accept].astype(np.int64)[:want]
        out[filled : filled + len(found)] = found
        filled += len(found)
    return out


def keys_from_uniforms(data: DataConfig, spread: HotspotKeys, u: np.ndarray) -> np.ndarray:
    """Hotspot keys from uniforms on [0, 1): below ``share_of_traffic`` a hot key (the first
    ``hot_keys``), above it a cold one, each set uniform."""
    hot = spread.hot_keys(data.keys)
    share = spread.hotspot.share_of_traffic
    cold = data.keys - hot
    in_hot = u < share
    hot_keys = np.floor(u / share * hot)
    if cold == 0 or share >= 1:
        return np.minimum(hot_keys, hot - 1).astype(np.int64)
    cold_keys = hot + np.floor((u - share) / (1.0 - share) * cold)
    keys = np.where(in_hot, np.minimum(hot_keys, hot - 1), np.minimum(cold_keys, data.keys - 1))
    return keys.astype(np.int64)


class KeyDrawer:
    """Draws keys following ``data.key_distribution`` (a Zipf table built once)."""

    def __init__(self, data: DataConfig) -> None:
        self.data = data
        self._cdf: np.ndarray | None = None
        spread = data.key_distribution
        if isinstance(spread, ZipfKeys) and data.keys <= ZIPF_TABLE_KEYS:
            ranks = np.arange(1, data.keys + 1, dtype=float)
            weights = ranks**-spread.zipf
            self._cdf = np.cumsum(weights) / weights.sum()

    def draw(self, count: int, generator: np.random.Generator) -> np.ndarray:
        """``count`` keys, from ``generator``."""
        data, spread = self.data, self.data.key_distribution
        if spread == "uniform":
            keys = generator.integers(0, data.keys, count)
        elif isinstance(spread, HotspotKeys):
            keys = keys_from_uniforms(data, spread, generator.random(count))
        elif self._cdf is not None:
            keys = np.searchsorted(self._cdf, generator.random(count), side="right")
            keys = np.minimum(keys, data.keys - 1)
        else:
            assert isinstance(spread, ZipfKeys)
            keys = zipf_ranks(data.keys, spread.zipf, count, generator) - 1
        return np.asarray(keys).astype(np.int64)


def draw_keys(data: DataConfig, count: int, generator: np.random.Generator) -> np.ndarray:
    """``count`` keys following ``data.key_distribution``."""
    return KeyDrawer(data).draw(count, generator)
