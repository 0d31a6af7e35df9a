"""The publisher from outside the test process: the API's publishing path never imports the task
modules (checked in a fresh interpreter), and a broker that does not answer makes publishing
answer False quickly instead of hanging the request that approved a ticket."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from service.adapters.config import Settings
from service.adapters.broker import Publisher, client_app


def test_publishing_does_not_import_the_task_modules(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from service.adapters.config import Settings\n"
        "from service.adapters.broker import Publisher, client_app\n"
        f"s = Settings(database_url='sqlite:///{tmp_path / 'x.db'}', broker_url='memory://', home=__import__('pathlib').Path('{tmp_path}'))\n"
        "assert Publisher(client_app(s), s)('T-1', 'change', 'prod')\n"
        "assert not [m for m in sys.modules if m == 'workers' or m.startswith('workers.')], sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=Path(__file__).parents[2], timeout=60)


def test_an_unreachable_broker_returns_false_quickly(tmp_path: Path) -> None:
    settings = Settings(database_url="sqlite:///unused.db", broker_url="redis://127.0.0.1:1/0", home=tmp_path)
    app = client_app(settings)
    publisher = Publisher(app, settings)

    started = time.monotonic()
    assert publisher("T-1", "upscale", "prod") is False
    assert publisher.webhook("D-1") is False
    elapsed = time.monotonic() - started
    app.close()

    # Approval publishes after its commit; a dead broker must not hold the HTTP request long.
    # Measured well under a second; the bound only catches a publisher that hangs.
    assert elapsed < 15, f"publishing to a dead broker took {elapsed:.1f}s"
