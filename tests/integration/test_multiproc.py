"""`envdesk serve` and `envdesk worker` must choose the metrics directory before
prometheus-client is imported, or the samples of forked processes are lost."""
import subprocess
import sys


def test_the_cli_does_not_import_prometheus_client_before_choosing_the_metrics_directory():
    probe = ("import sys; import service.cli, service.entrypoints.server; "
             "print('prometheus_client' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)

    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
