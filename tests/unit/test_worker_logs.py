"""Worker and beat logs: the sweep that beat sends every few seconds does not fill them.

Celery's own lines about each sweep (sent, received, succeeded) are at debug; a sweep that did
something is still logged at info by the task, and a failing sweep still shows."""
from __future__ import annotations

import logging
from typing import Iterator

import pytest
from celery.signals import setup_logging

import workers.tasks  # noqa: F401  (connects the logging set-up of workers and beat)
from service.adapters.broker import PROVISION_TASK, SWEEP_TASK


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self) -> list[str]:
        return [f"{r.levelname} {r.getMessage()}" for r in self.records]


@pytest.fixture
def worker_logs() -> Iterator[Lines]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    setup_logging.send(sender=None, loglevel="INFO", logfile=None, format="", colorize=False)
    lines = Lines()
    root.addHandler(lines)
    yield lines
    root.handlers[:], level = saved
    root.setLevel(level)


def test_routine_sweeps_leave_no_info_lines(worker_logs: Lines) -> None:
    logging.getLogger("celery.beat").info("Scheduler: Sending due task %s (%s)", "sweep", SWEEP_TASK)
    logging.getLogger("celery.worker.strategy").info("Task %s[%s] received", SWEEP_TASK, "abc")
    logging.getLogger("celery.app.trace").info("Task %s[%s] succeeded in %ss: %s", SWEEP_TASK, "abc",
                                               0.002, {"reverts_started": 0})

    assert worker_logs.messages() == []


def test_provisioning_and_a_failing_sweep_are_still_logged(worker_logs: Lines) -> None:
    logging.getLogger("celery.worker.strategy").info("Task %s[%s] received", PROVISION_TASK, "t1")
    logging.getLogger("celery.app.trace").error("Task %s[%s] raised unexpected: %s", SWEEP_TASK, "s1",
                                                "OperationalError")

    assert worker_logs.messages() == [f"INFO Task {PROVISION_TASK}[t1] received",
                                      f"ERROR Task {SWEEP_TASK}[s1] raised unexpected: OperationalError"]


def test_at_debug_level_the_routine_lines_show(worker_logs: Lines) -> None:
    logging.getLogger().setLevel(logging.DEBUG)
    logging.getLogger("celery.beat").info("Scheduler: Sending due task %s (%s)", "sweep", SWEEP_TASK)

    assert worker_logs.messages() == [f"DEBUG Scheduler: Sending due task sweep ({SWEEP_TASK})"]


@pytest.mark.parametrize("given", ["WARNING", logging.WARNING])
def test_the_worker_logs_at_the_level_it_was_started_with(given: str | int) -> None:
    """`envdesk worker --loglevel WARNING`: Celery's per-task info lines and the task's own are
    left out (Celery hands the level over as a name or as a number)."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging.send(sender=None, loglevel=given, logfile=None, format="", colorize=False)
        lines = Lines()
        root.addHandler(lines)
        logging.getLogger("celery.app.trace").info("Task %s succeeded", PROVISION_TASK)
        logging.getLogger("workers.tasks").warning("provisioning gave up")
        assert lines.messages() == ["WARNING provisioning gave up"]
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
