"""envdesk_queue_depth in /metrics: each queue's waiting messages, read at scrape time; a broker
that does not answer shows as down rather than as an empty queue."""
from __future__ import annotations

from typing import Mapping

from service.adapters.metrics import QueueCollector


def _samples(collector: QueueCollector) -> dict[str, dict[tuple[str, ...], float]]:
    return {family.name: {tuple(s.labels.values()): s.value for s in family.samples}
            for family in collector.collect()}


def test_each_queue_depth_is_a_sample_labelled_with_its_queue() -> None:
    samples = _samples(QueueCollector(lambda: {"provision.prod.upscale": 3, "webhooks": 0}))

    assert samples["envdesk_queue_depth"] == {("provision.prod.upscale",): 3, ("webhooks",): 0}
    assert samples["envdesk_broker_up"] == {(): 1}


def test_a_broker_that_does_not_answer_is_down_and_gives_no_depth() -> None:
    def unreachable() -> Mapping[str, int]:
        raise TimeoutError("Timeout reading from socket")

    samples = _samples(QueueCollector(unreachable))

    assert samples == {"envdesk_broker_up": {(): 0}}
