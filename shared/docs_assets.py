"""Swagger UI and ReDoc pages, with every asset served from files in this repository.

The assets are vendored byte for byte from the npm packages ``swagger-ui-dist``
(Swagger UI 5) and ``redoc`` (ReDoc 2) under ``shared/static/api-docs/``; the README
there names versions, sources and licences. No CDN and no Python package: the
pages render on air-gapped machines and the deployment carries no web framework.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from shared.errors import NotFoundError

# Not a folder named "docs": .funcignore leaves every such folder out of the package.
STATIC_ROOT = Path(__file__).resolve().parent / "static" / "api-docs"

# The only files served: URL name -> (path under STATIC_ROOT, media type).
ASSETS = {
    "swagger-ui-bundle.js": ("swagger-ui-dist/swagger-ui-bundle.js", "application/javascript"),
    "swagger-ui-standalone-preset.js": ("swagger-ui-dist/swagger-ui-standalone-preset.js", "application/javascript"),
    "swagger-ui.css": ("swagger-ui-dist/swagger-ui.css", "text/css"),
    "favicon-32x32.png": ("swagger-ui-dist/favicon-32x32.png", "image/png"),
    "redoc.standalone.js": ("redoc/redoc.standalone.js", "application/javascript"),
}


@lru_cache(maxsize=len(ASSETS))
def asset(name: str) -> tuple[bytes, str]:
    """The bytes and media type of one whitelisted asset; 404 for any other name."""
    if name not in ASSETS:
        raise NotFoundError("No such documentation asset.")
    relative, media_type = ASSETS[name]
    return (STATIC_ROOT / relative).read_bytes(), media_type


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
