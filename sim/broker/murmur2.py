"""Kafka's default key partitioner: ``toPositive(murmur2(serializedKey)) % numPartitions``.

This is a bit-for-bit port of ``org.apache.kafka.common.utils.Utils.murmur2`` (32-bit MurmurHash2
with Kafka's seed ``0x9747b28c``) and of ``BuiltInPartitioner.partitionForKey`` (domain.md §1.1,
[K-PART]). A key is serialized as the UTF-8 bytes of its string form, as Kafka's
``StringSerializer`` does; ``bytes`` keys are hashed as they are.

Keyless records do not come here: the producer's sticky partitioner handles them
(:mod:`sim.broker.producer`).
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["key_bytes", "murmur2", "partition_for_key", "to_positive"]

_MASK = 0xFFFFFFFF
_SEED = 0x9747B28C
_M = 0x5BD1E995
_R = 24


def murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2``: a signed 32-bit hash, as Java's ``int`` would hold it."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * _M) & _MASK
        k ^= k >> _R
        k = (k * _M) & _MASK
        h = (h * _M) & _MASK
        h ^= k
    rest = length % 4
    if rest == 3:
        h ^= data[whole + 2] << 16
    if rest >= 2:
        h ^= data[whole + 1] << 8
    if rest >= 1:
        h ^= data[whole]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def to_positive(number: int) -> int:
    """Kafka's ``Utils.toPositive``: clear the sign bit (not ``abs``, which fails on MIN_VALUE)."""
    return number & 0x7FFFFFFF


def key_bytes(key: object) -> bytes:
    """The serialized form of a key: the bytes themselves, or the UTF-8 of ``str(key)``."""
    if isinstance(key, bytes | bytearray):
        return bytes(key)
    return str(key).encode("utf-8")


@lru_cache(maxsize=65536)
def _partition(data: bytes, partitions: int) -> int:
    return to_positive(murmur2(data)) % partitions


def partition_for_key(key: object, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for a non-null key."""
    if partitions < 1:
        raise ValueError(f"a topic needs at least one partition (got {partitions})")
    return _partition(key_bytes(key), partitions)
