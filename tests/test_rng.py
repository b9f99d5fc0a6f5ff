"""Named streams: reproducible per (seed, point, replication, name) and independent of each other.

The common-random-numbers promise is that a stream's draws depend only on its key, never on
which other streams exist or were used, so two patterns are compared on the same draws.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.kernel.draws import Keyed
from sim.kernel.rng import Streams, name_key

DRAWS = 10_000  # more than two buffered blocks, so block boundaries are crossed


def uniforms(streams: Streams, name: str, count: int = 50) -> list[float]:
    stream = streams.stream(name)
    return [stream.uniform() for _ in range(count)]


def test_same_key_gives_the_same_draws() -> None:
    assert uniforms(Streams(7, replication=2, point=1), "arrivals") == uniforms(
        Streams(7, replication=2, point=1), "arrivals"
    )


def test_another_name_gives_other_draws() -> None:
    streams = Streams(7)
    assert uniforms(streams, "arrivals") != uniforms(streams, "keys")


@pytest.mark.parametrize(
    "other",
    [
        Streams(8, replication=2, point=1),
        Streams(7, replication=3, point=1),
        Streams(7, 2, point=0),
    ],
    ids=["other-seed", "other-replication", "other-point"],
)
def test_another_seed_replication_or_point_gives_other_draws(other: Streams) -> None:
    assert uniforms(other, "arrivals") != uniforms(Streams(7, replication=2, point=1), "arrivals")


def test_creation_order_and_extra_streams_do_not_shift_a_stream() -> None:
    alone = Streams(11)
    expected = uniforms(alone, "service:orders", 5000)

    crowded = Streams(11)
    for name in ("fault:db:orders", "arrivals", "keys", "network"):
        stream = crowded.stream(name)
        for _ in range(123):
            stream.uniform()
            stream.exponential()
    target = crowded.stream("service:orders")
    drawn = []
    for i in range(5000):
        drawn.append(target.uniform())
        if i % 7 == 0:  # interleave use of another stream
            crowded.stream(f"late-{i % 3}").normal()
    assert drawn == expected


def test_a_name_always_returns_the_same_stream_object() -> None:
    streams = Streams(3)
    first = streams.stream("keys")
    first.uniform()
    assert streams.stream("keys") is first
    assert streams.generator("keys") is first.generator


def test_buffered_scalars_equal_the_generators_own_sequence() -> None:
    streams = Streams(2024, replication=1)
    stream = streams.stream("service:orders")
    reference = np.random.Generator(np.random.PCG64(Streams(2024, 1).sequence("service:orders")))
    assert [stream.uniform() for _ in range(DRAWS)] == reference.random(DRAWS).tolist()


@pytest.mark.parametrize("kind", ["exponential", "normal"])
def test_buffered_exponential_and_normal_equal_the_generators_own_sequence(kind: str) -> None:
    stream = Streams(5).stream("x")
    reference = np.random.Generator(np.random.PCG64(Streams(5).sequence("x")))
    bulk = (
        reference.standard_exponential(DRAWS)
        if kind == "exponential"
        else reference.standard_normal(DRAWS)
    )
    draw = getattr(stream, kind)
    assert [draw() for _ in range(DRAWS)] == bulk.tolist()


def test_name_key_is_stable_across_processes() -> None:
    # sha256-derived (first 8 bytes of sha256(b"arrivals") = 1b89b4c9812f8b34, little-endian),
    # so unlike ``hash`` it does not change with PYTHONHASHSEED
    assert name_key("arrivals") == 0x348B2F81C9B4891B
    assert name_key("arrivals") != name_key("arrival")


@given(st.lists(st.integers(-(2**63), 2**64 - 1), min_size=1, max_size=6))
def test_a_keyed_uniform_is_the_top_53_bits_of_the_works_id(ids: list[int]) -> None:
    keyed = Keyed(Streams(11), "apply")
    uniform = keyed.uniform(*ids)
    assert uniform == (keyed.ident(*ids) >> 11) * 2.0**-53
    assert 0.0 <= uniform < 1.0
    assert Keyed(Streams(11), "apply").uniform(*ids) == uniform  # a pure function of the ids
