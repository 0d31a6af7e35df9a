"""``python -m service.cli``: the same as the ``envdesk`` script."""
from service.cli import cli

cli()
