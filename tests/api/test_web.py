"""The page's routes: GET / and its static files, served by the app itself with no CDN."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.api.main import create_app
from qa.api.web import STATIC_DIR, STATIC_FILES
from qa.config import Settings


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    # No `with`: the lifespan (index loading) does not run; the page needs no index.
    return TestClient(create_app(Settings(index_dir=tmp_path / "index")))


def test_root_serves_the_page_with_a_strict_content_policy(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    html = response.text
    assert re.search(r'<input[^>]*name="question"', html)
    assert 'data-testid="answer"' in html


@pytest.mark.parametrize(("name", "media"), sorted(STATIC_FILES.items()))
def test_static_files_are_served_with_their_type(client: TestClient, name: str, media: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == media
    assert response.content == (STATIC_DIR / name).read_bytes()


@pytest.mark.parametrize("name", ["index.html", "nope.js", "..%2Fweb.py", "%2E%2E%2Fmain.py"])
def test_other_static_paths_are_json_404s(client: TestClient, name: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_page_references_only_its_own_files() -> None:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    urls = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert urls, "the page links its script and stylesheet"
    for url in urls:
        assert url.startswith(("/", "#", "data:")), f"external resource in the page: {url}"
    for name in STATIC_FILES:
        assert f"/static/{name}" in html


def test_page_is_not_in_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths and not any(p.startswith("/static") for p in paths)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_api_docs_load_their_assets_from_the_service(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", response.text)
    assets = [u for u in urls if u.endswith((".js", ".css", ".png"))]
    assert assets, "the docs page names its script and stylesheet"
    for url in [*urls, *assets]:
        assert url.startswith("/"), f"{page} loads {url} from elsewhere"
    for url in assets:
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 1000, url
