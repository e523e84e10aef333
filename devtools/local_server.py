"""A small stand-in for Azure Functions Core Tools: serves ``function_app.app``.

It reads the registered functions and their routes from the FunctionApp,
turns each HTTP request into an ``azure.functions.HttpRequest``, calls the
function and writes its ``HttpResponse`` back, on http://localhost:7071 like
``func start``. It also does what the Azure platform does in front of the
app: appends the peer address to X-Forwarded-For, and answers CORS exactly as
the Functions host does with ``siteConfig.cors`` built from ``CORS_ORIGINS``
(``devtools.host_cors``), so a browser sees the same under ``make run`` as in
Azure. No endpoint logic lives here.

Run: ``python -m devtools.local_server`` (``make run`` does more: services,
migrations, the super admin).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
from azure.functions.decorators.http import HttpTrigger

from devtools.host_cors import Headers, HostCorsPolicy
from shared.errors import ErrorCode, error_body
from shared.http.routing import RouteTemplate, is_reserved_path

logger = logging.getLogger("augeo.local_server")

MAX_BODY_BYTES = 100 * 1024 * 1024  # the Functions host's own limit
# The host sets these itself on a response to an allowed origin.
_SET_BY_HOST_CORS = frozenset({"access-control-allow-origin", "access-control-allow-credentials"})


@dataclass(frozen=True)
class Route:
    """A registered function as the router sees it."""

    name: str
    template: RouteTemplate
    methods: frozenset[str] | None
    call: Callable[[func.HttpRequest], func.HttpResponse]


def load_routes(app: func.FunctionApp) -> list[Route]:
    """Every HTTP-triggered function of ``app``, most specific route first."""
    routes = []
    for function in app.get_functions():
        trigger = function.get_trigger()
        if not isinstance(trigger, HttpTrigger):
            continue
        name = function.get_function_name() or ""
        methods = trigger.methods
        routes.append(
            Route(
                name=name,
                template=RouteTemplate.parse(trigger.route or name),
                methods=frozenset(str(getattr(m, "value", m)).upper() for m in methods) if methods else None,
                call=function.get_user_function(),
            )
        )
    return sorted(routes, key=lambda route: route.template.precedence)


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The first route whose template and methods accept the request; none under the host's own paths."""
        if is_reserved_path(path):
            return None
        for route in self.routes:
            if route.methods is not None and method not in route.methods:
                continue
            params = route.template.match(path)
            if params is not None:
                return route, params
        return None


class FunctionsRequestHandler(BaseHTTPRequestHandler):
    """Translates between http.server and the Functions programming model."""

    server: LocalFunctionsServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY a
    # keep-alive client waits ~40 ms for the delayed ACK on every response.
    disable_nagle_algorithm = True

    def _read_body(self) -> bytes | None:
        """The whole body (so a kept-alive connection stays in sync), or None when too large."""
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._write(413, [("Connection", "close")], b"")
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        body = self._read_body()
        if body is None:
            return
        cors = self.server.cors
        origin = self.headers.get("Origin")
        requested_headers = self.headers.get_all("Access-Control-Request-Headers", [])
        preflight = cors.preflight(
            self.command, origin, self.headers.get("Access-Control-Request-Method"), requested_headers
        )
        if preflight is not None:  # answered by the host; never a function's business
            self._write(204, preflight, b"")
            return
        url = urlsplit(self.path)
        resolved = self.server.router.resolve(self.command, url.path or "/")
        if resolved is None:
            self._write(404, cors.on_response(origin), b"")
            return
        route, params = resolved
        request = func.HttpRequest(
            method=self.command,
            url=f"http://{self.headers.get('Host', 'localhost')}{self.path}",
            headers=self._forwarded_headers(),
            params=dict(parse_qsl(url.query, keep_blank_values=True)),
            route_params=params,
            body=body,
        )
        try:
            response = route.call(request)
        except Exception:  # the pipeline never raises; this guards the dev tool itself
            logger.exception("function %s raised", route.name)
            self._write(500, cors.on_response(origin), b"")
            return
        headers = dict(response.headers)
        if response.mimetype:
            charset = f"; charset={response.charset}" if response.charset else ""
            headers.setdefault("Content-Type", f"{response.mimetype}{charset}")
        from_host = cors.on_response(origin)
        replaced = _SET_BY_HOST_CORS if from_host else frozenset()
        kept = [(name, value) for name, value in headers.items() if name.lower() not in replaced]
        self._write(response.status_code, kept + from_host, response.get_body() or b"")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def _unsupported_method(self) -> None:
        """Methods the Functions host cannot route to a function (TRACE, CONNECT, ...)."""
        if self._read_body() is None:
            return
        body = json.dumps(error_body(ErrorCode.METHOD_NOT_ALLOWED, "This method is not allowed.", uuid.uuid4().hex))
        self._write(
            405,
            [("Allow", "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"), ("Content-Type", "application/json")],
            body.encode(),
        )

    do_TRACE = do_CONNECT = do_PROPFIND = do_QUERY = _unsupported_method

    def _forwarded_headers(self) -> dict[str, str]:
        headers = {key: value for key, value in self.headers.items()}
        peer = self.client_address[0]
        forwarded = headers.pop("X-Forwarded-For", None) or headers.pop("x-forwarded-for", None)
        headers["X-Forwarded-For"] = f"{forwarded}, {peer}" if forwarded else peer
        return headers

    def _write(self, status: int, headers: Headers, body: bytes) -> None:
        """The status line, ``headers`` in order (a name may repeat, as Vary does) and the body."""
        self.send_response(status)
        for key, value in headers:
            if key.lower() not in ("content-length", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        logger.debug("%s " + format, self.client_address[0], *args)


class LocalFunctionsServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # a burst of browser tabs or test clients must not be reset

    def __init__(self, address: tuple[str, int], router: Router, cors: HostCorsPolicy) -> None:
        super().__init__(address, FunctionsRequestHandler)
        self.router = router
        self.cors = cors


def site_cors() -> HostCorsPolicy:
    """siteConfig.cors as infra/ deploys it: the origins of CORS_ORIGINS, with credentials."""
    from shared.config import get_settings

    return HostCorsPolicy(tuple(get_settings().cors_origins))


def create_server(host: str = "127.0.0.1", port: int = 7071) -> LocalFunctionsServer:
    """Import the FunctionApp, read its routes and bind a server (not started); once per process."""
    import function_app

    return LocalFunctionsServer((host, port), Router(load_routes(function_app.app)), site_cors())


def serve_in_thread(server: LocalFunctionsServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="local-functions-server", daemon=True)
    thread.start()
    return thread


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "7071"))
    server = create_server(host, port)
    logger.info("serving %d functions on http://%s:%d", len(server.router.routes), host, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
