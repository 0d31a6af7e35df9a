"""An in-memory provisioning API that serves the contract of docs/operations.md#provisioning
over HTTP.

Operations go ``pending`` -> ``running`` -> ``succeeded``/``failed`` over
``latency`` seconds (first half pending, second half running). ``failure_rate``
answers that fraction of ``/v1`` requests with a transient 503 or 429 (alternating,
both with ``Retry-After: 1``); ``response_delay`` holds every ``/v1`` response.
The ``/_sim`` endpoints are never delayed or failed: ``GET /_sim/stats`` is open,
``POST /_sim/config`` and ``POST /_sim/reset`` need the bearer token when one is set.
"""
from service.provisioning_sim.server import SimServer, make_server, serve
from service.provisioning_sim.state import SimSettings, SimState, check_settings, validate_operation_body

__all__ = ["SimServer", "SimSettings", "SimState", "check_settings", "make_server", "serve",
           "validate_operation_body"]
