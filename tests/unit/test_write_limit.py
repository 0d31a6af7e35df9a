"""The write limit's fixed windows in process memory (what counts when Redis does not answer)."""
from __future__ import annotations

from service.api.limits import MemoryWindows


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_window_counts_its_hits_and_says_how_long_it_has_left() -> None:
    clock = Clock()
    windows = MemoryWindows(clock)

    assert windows.hit("a", 60) == (1, 60.0)
    clock.now += 15
    assert windows.hit("a", 60) == (2, 45.0)
    assert windows.hit("b", 60) == (1, 60.0)


def test_a_new_window_starts_from_zero_when_the_last_one_is_over() -> None:
    clock = Clock()
    windows = MemoryWindows(clock)
    for _ in range(5):
        windows.hit("a", 60)

    clock.now += 60

    assert windows.hit("a", 60) == (1, 60.0)
