"""/docs and /redoc work on an intranet that reaches no CDN: every asset their pages load is the app's."""

from __future__ import annotations

import re

import pytest

ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_documentation_pages_load_only_local_assets(client, page):
    response = await client.get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "http://" not in html and "https://" not in html and "//cdn" not in html, html
    assets = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']', html)
    assets += re.findall(r'(?:url|spec-url)\s*[:=]\s*["\']([^"\']+)["\']', html)
    assert any(a.endswith(".js") for a in assets), assets
    for asset in set(assets):
        assert asset.startswith("/"), asset  # served by this app
        fetched = await client.get(asset)
        assert fetched.status_code == 200, asset
        kind = next((kind for ext, kind in ASSET_TYPES.items() if asset.endswith(ext)), "json")
        assert kind in fetched.headers["content-type"], (asset, fetched.headers["content-type"])
        assert len(fetched.content) > 100
