"""/docs: the API reference, browsable, from Swagger UI files installed with flask-swagger-ui (no
CDN). The page has no inline script, so a strict Content-Security-Policy does not break it."""
from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, send_from_directory, url_for

ASSETS = Path(flask_swagger_ui.__file__).parent / "dist"
ALLOWED_ASSETS = frozenset({"swagger-ui.css", "index.css", "swagger-ui-bundle.js",
                            "swagger-ui-standalone-preset.js", "favicon-32x32.png"})

blp = Blueprint("docs", __name__)

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>envdesk API reference</title>
  <link rel="stylesheet" href="{css}">
  <link rel="icon" type="image/png" href="{icon}">
</head>
<body>
  <div id="swagger-ui" data-spec-url="{spec}"></div>
  <script src="{bundle}"></script>
  <script src="{init}"></script>
</body>
</html>
"""

# validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io.
INIT = """window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl, domNode: root, deepLinking: true, validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"
  });
});
"""


@blp.get("/docs")
def page() -> Response:
    def asset(name: str) -> str:
        return url_for("docs.asset", name=name)

    html = PAGE.format(css=asset("swagger-ui.css"), icon=asset("favicon-32x32.png"),
                       bundle=asset("swagger-ui-bundle.js"), init=url_for("docs.init"),
                       spec=url_for("api-docs.openapi_json"))
    return Response(html, mimetype="text/html")


@blp.get("/docs/init.js")
def init() -> Response:
    return Response(INIT, mimetype="text/javascript", headers={"Cache-Control": "max-age=3600"})


@blp.get("/docs/assets/<name>")
def asset(name: str) -> Response:
    if name not in ALLOWED_ASSETS:
        return Response("not found", status=404, mimetype="text/plain")
    return send_from_directory(ASSETS, name, max_age=86400)
