"""Where forked processes keep their Prometheus samples.

prometheus-client picks its storage when it is first imported, so this module must not import
it: ``envdesk serve`` and ``envdesk worker`` call ``prepare_multiprocess_dir`` before anything
that does."""
from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path


def prepare_multiprocess_dir(path: Path) -> None:
    """A fresh directory for this process tree's samples; call before the first fork."""
    if "prometheus_client" in sys.modules:
        logging.getLogger(__name__).warning(
            "prometheus_client was imported before its multiprocess directory was set; "
            "samples of forked processes will not be added up")
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
