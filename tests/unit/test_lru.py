"""SizedLRU: bounded by the bytes it holds, the least recently read dropped first."""
from __future__ import annotations

from service.adapters.lru import SizedLRU


def test_storing_past_the_bound_drops_the_least_recently_read() -> None:
    kept: SizedLRU[str] = SizedLRU(10)
    kept.put("a", b"1234", "ta")
    kept.put("b", b"1234", "tb")
    assert kept.get("a") == (b"1234", "ta")  # now b is the least recently read
    kept.put("c", b"1234", "tc")
    assert kept.get("b") is None and kept.get("a") == (b"1234", "ta") and kept.get("c") == (b"1234", "tc")
    assert kept.size == 8


def test_a_value_larger_than_the_bound_is_not_kept() -> None:
    kept: SizedLRU[str] = SizedLRU(3)
    kept.put("a", b"1234", "t")
    assert kept.get("a") is None and kept.size == 0


def test_storing_a_key_again_counts_its_bytes_once() -> None:
    kept: SizedLRU[str] = SizedLRU(10)
    kept.put("a", b"123456", "t1")
    kept.put("a", b"1234567", "t2")
    assert kept.get("a") == (b"1234567", "t2") and kept.size == 7 and len(kept) == 1
