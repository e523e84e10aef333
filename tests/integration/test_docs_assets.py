"""The Swagger UI and ReDoc files vendored under shared/static/api-docs, and how the app serves them."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from shared.docs_assets import ASSETS, STATIC_ROOT


def _recorded_digests() -> dict[str, str]:
    lines = (STATIC_ROOT / "SHA256SUMS").read_text().splitlines()
    return {path: digest for digest, path in (line.split(maxsplit=1) for line in lines if line.strip())}


def test_vendored_files_are_the_published_ones_and_only_those_served() -> None:
    digests = _recorded_digests()
    assert set(digests) == {relative for relative, _ in ASSETS.values()}
    for relative, digest in digests.items():
        assert hashlib.sha256((STATIC_ROOT / relative).read_bytes()).hexdigest() == digest, relative
    # Besides the served files: this folder's README and digests, and licence texts.
    kept = {STATIC_ROOT / relative for relative in digests} | {STATIC_ROOT / "README.md", STATIC_ROOT / "SHA256SUMS"}
    others = [path.name for path in STATIC_ROOT.rglob("*") if path.is_file() and path not in kept]
    assert all(name in {"LICENSE", "NOTICE"} or name.endswith(".LICENSE.txt") for name in others), others


def test_each_vendored_package_carries_its_licence() -> None:
    folders = {relative.split("/", 1)[0] for relative, _ in ASSETS.values()}
    assert folders == {"swagger-ui-dist", "redoc"}
    assert "Apache License" in (STATIC_ROOT / "swagger-ui-dist" / "LICENSE").read_text()
    assert (STATIC_ROOT / "swagger-ui-dist" / "NOTICE").is_file()
    assert "MIT License" in (STATIC_ROOT / "redoc" / "LICENSE").read_text()
    for relative, _ in ASSETS.values():
        if relative.endswith(".js"):
            assert (STATIC_ROOT / f"{relative}.LICENSE.txt").is_file(), relative


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_every_asset_is_served_with_its_media_type(client: httpx.Client, name: str) -> None:
    relative, media_type = ASSETS[name]
    response = client.get(f"/docs/assets/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    assert response.headers["cache-control"] == "public, max-age=86400"
    assert response.content == (STATIC_ROOT / relative).read_bytes()


@pytest.mark.parametrize("name", ["LICENSE", "SHA256SUMS", "README.md", "swagger-ui-bundle.js.LICENSE.txt", "x.js"])
def test_nothing_else_is_served(client: httpx.Client, name: str) -> None:
    response = client.get(f"/docs/assets/{name}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_pages_load_only_from_this_app(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert "/docs/assets/" in response.text
    assert "http://" not in response.text and "https://" not in response.text
