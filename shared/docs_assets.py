"""Swagger UI and ReDoc pages, with every asset served from an installed package.

The assets come from the PyPI package ``drf-spectacular-sidecar`` (Swagger UI
5 and ReDoc builds); it is located with ``find_spec`` and never imported, so
Django (its declared dependency) is never loaded. No CDN: the pages render on
air-gapped machines.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from shared.errors import NotFoundError

_ASSETS = {
    "swagger-ui-bundle.js": ("swagger-ui-dist/swagger-ui-bundle.js", "application/javascript"),
    "swagger-ui-standalone-preset.js": ("swagger-ui-dist/swagger-ui-standalone-preset.js", "application/javascript"),
    "swagger-ui.css": ("swagger-ui-dist/swagger-ui.css", "text/css"),
    "favicon-32x32.png": ("swagger-ui-dist/favicon-32x32.png", "image/png"),
    "redoc.standalone.js": ("redoc/bundles/redoc.standalone.js", "application/javascript"),
}


@lru_cache(maxsize=1)
def _static_root() -> Path:
    spec = importlib.util.find_spec("drf_spectacular_sidecar")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("drf-spectacular-sidecar is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "drf_spectacular_sidecar"


@lru_cache(maxsize=len(_ASSETS))
def asset(name: str) -> tuple[bytes, str]:
    """The bytes and media type of one whitelisted asset; 404 for any other name."""
    if name not in _ASSETS:
        raise NotFoundError("No such documentation asset.")
    relative, media_type = _ASSETS[name]
    return (_static_root() / relative).read_bytes(), media_type


SWAGGER_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Augeo Platform API · Swagger UI</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: false,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "BaseLayout"
    });
  </script>
</body>
</html>
"""

REDOC_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Augeo Platform API · ReDoc</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
</head>
<body>
  <redoc spec-url="/openapi.json"></redoc>
  <script src="/docs/assets/redoc.standalone.js"></script>
</body>
</html>
"""
