"""/docs: a browsable API reference served entirely by this service."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit


def test_docs_page_loads_its_assets_and_the_served_openapi_document_from_this_host(client: Any) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    references = re.findall(r'(?:src|href|data-spec-url)="([^"]+)"', html)
    assert len(references) >= 4
    for reference in references:
        assert not urlsplit(reference).netloc, f"{reference} comes from another host"
        assert not reference.startswith("//")
        asset = client.get(reference)
        assert asset.status_code == 200, reference
        assert asset.get_data()
    spec_url = re.search(r'data-spec-url="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert client.get(spec_url).get_json()["paths"]["/v1/tickets"]
    assert "<script>" not in html, "inline scripts break under a strict Content-Security-Policy"


def test_docs_script_sends_the_document_nowhere_else(client: Any) -> None:
    html = client.get("/docs").get_data(as_text=True)
    init_url = [src for src in re.findall(r'<script src="([^"]+)"', html) if "init" in src][0]
    script = client.get(init_url).get_data(as_text=True)
    assert "validatorUrl: null" in script
    assert not re.search(r"https?://", script)


def test_docs_serve_only_the_swagger_ui_files(client: Any) -> None:
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200
    assert client.get("/docs/assets/..%2f..%2fpyproject.toml").status_code == 404
    assert client.get("/docs/assets/oauth2-redirect.html").status_code == 404
