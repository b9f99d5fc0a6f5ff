"""Kafka's default partitioner, checked against Kafka's own test vectors."""

from __future__ import annotations

import pytest

from sim.broker.murmur2 import murmur2, partition_for_key, to_positive

# apache/kafka clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java, testMurmur2
KAFKA_UTILS_TEST = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}

# Partitions a Java (ksqlDB) producer chose for string keys on a 6-partition topic, as logged
# by the public demo ifnesi/python_partitioner_murmur2 (README, "demo_user_orders" column).
JAVA_PRODUCER_6_PARTITIONS = {
    "111c123c95fdc24603f9fef28862a117": 3,
    "24f7f396cc2a19c36eefe8b424085bdc": 1,
    "70d38d0a6dfc05506fc647be7eb1a9aa": 5,
    "8684f69ede86d8607ddd899e2a0612e0": 1,
    "9e6debacf13e7ea560c77ece2c0c5039": 1,
    "a9b83b707a9d7144e56665dc633fc389": 4,
    "b07398f4d618333e241ab3f34e99c1dd": 4,
    "b7eb209cde19021de8ee60524a313eba": 0,
}


@pytest.mark.parametrize(("data", "expected"), KAFKA_UTILS_TEST.items())
def test_murmur2_matches_kafka_utils_test(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected


@pytest.mark.parametrize(("key", "expected"), JAVA_PRODUCER_6_PARTITIONS.items())
def test_partition_matches_java_producer(key: str, expected: int) -> None:
    assert partition_for_key(key, 6) == expected


def test_to_positive_clears_the_sign_bit_instead_of_abs() -> None:
    assert to_positive(-(2**31)) == 0
    assert to_positive(-1) == 2**31 - 1
    assert to_positive(5) == 5


def test_keys_are_hashed_as_utf8_of_their_string_form() -> None:
    assert partition_for_key(21, 7) == partition_for_key("21", 7) == partition_for_key(b"21", 7)
    assert partition_for_key("é", 13) == to_positive(murmur2("é".encode())) % 13


def test_partition_count_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least one partition"):
        partition_for_key("k", 0)
