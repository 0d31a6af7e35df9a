"""How the processes start: the WSGI application wired to its adapters (``wsgi``), the embedded
gunicorn of ``envdesk serve`` (``server``) and ``envdesk up``'s supervisor with its demo
(``up``, ``demo``). The commands that launch them live in ``service.cli``; nothing below this
package imports it."""
