"""``nnrun serve``: a run's model over HTTP, on FastAPI (routes, OpenAPI docs) and uvicorn (HTTP/1.1 keep-alive,
graceful shutdown on SIGINT/SIGTERM, worker processes).

``POST /predict`` reads the body itself (not through a pydantic model) so that a bad body is answered with the
message ``nnrun predict`` prints for the same rows, and so that the body limit is checked while it is read.
The model work runs in FastAPI's thread pool; the event loop keeps answering ``/health`` meanwhile.
FastAPI is imported here, at the top (its routes read the annotations): only ``api_models.serve`` imports this module.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from nnrun import __version__
from nnrun.errors import UsageError, error_document
from nnrun.inference.service import REQUEST, Answer, Service

#: Default ``--max-body-bytes``: a larger ``POST /predict`` body is answered 413 (10 MB).
MAX_BODY_BYTES = 10_000_000

#: A larger body is read to its end (so that the client sees the 413) only up to this many times the limit.
_DRAIN_FACTOR = 8

#: How ``--workers`` processes find their run (uvicorn starts them from an import string).
ENV_RUN_DIR, ENV_MAX_BODY = "NNRUN_SERVE_RUN_DIR", "NNRUN_SERVE_MAX_BODY_BYTES"

_BODY_SCHEMA = {
    "type": "object",
    "properties": {
        "rows": {"type": "array", "description": "rows: lists in feature order, or objects keyed by feature name",
                 "items": {"anyOf": [{"type": "array"}, {"type": "object"}]}},
        "texts": {"type": "array", "items": {"type": "string"}, "description": "text models: one text per row"},
        "threshold": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5,
                      "description": "binary classifiers: predict the second class when its probability is >= this"},
    },
    "example": {"rows": [[5.1, 3.5, 1.4, 0.2]]},
}
_ERRORS = {400: "the body is not JSON, or not an object with rows", 413: "the body is over --max-body-bytes",
           422: "rows nnrun predict would refuse (its message)", 500: "the model failed"}


def make_app(run_dir: Path | str | Service, max_body_bytes: int = MAX_BODY_BYTES) -> Any:
    """The FastAPI application serving one run: ``POST /predict``, ``GET /health``, ``GET /metadata``, ``/docs``.

    Args:
        run_dir: a run directory (its model is loaded here, once), or a loaded ``Service``.
        max_body_bytes: larger ``POST /predict`` bodies are answered 413 without being parsed.

    Raises:
        UsageError, RunError: as ``Service``.

    Example:
        >>> from fastapi.testclient import TestClient
        >>> client = TestClient(make_app("runs/iris"))  # doctest: +SKIP
        >>> client.post("/predict", json={"rows": [[5.1, 3.5, 1.4, 0.2]]}).json()  # doctest: +SKIP
    """
    service = run_dir if isinstance(run_dir, Service) else Service(run_dir)
    app = FastAPI(title=f"nnrun serve: {service.name}", version=__version__,
                  description=f"Predictions of the nnrun run {service.run} ({service.meta['task']}).")

    @app.get("/health", summary="The server is up and its model loaded")
    def health() -> dict:
        return {"status": "ok", "run": service.name}

    @app.get("/metadata", summary="The run: task, features, classes, versions")
    def metadata() -> dict:
        return service.info

    @app.post("/predict", summary="Predict rows, as nnrun predict --format json does",
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": _BODY_SCHEMA}}}},
              responses={code: {"description": text} for code, text in _ERRORS.items()})
    async def predict(request: Request) -> Response:
        body = await _read_body(request, max_body_bytes)
        answer = too_large(max_body_bytes) if body is None else await run_in_threadpool(service.answer, body)
        return Response(answer.body, status_code=answer.status, media_type="application/json")

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, http_error)
    return app


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (404 for an unknown path, 405 for ``GET /predict``, 422 for a bad request) in
    nnrun's ``{"error": {...}}`` document, keeping their status code (and headers, e.g. ``Allow``)."""
    status = getattr(exc, "status_code", 422)
    detail = getattr(exc, "detail", None) if isinstance(exc, HTTPException) else "the request is not valid"
    message = f"{REQUEST}: {request.method} {request.url.path}: {detail}"
    if status in (404, 405):
        message += "; the routes are POST /predict, GET /health, GET /metadata, GET /docs"
    doc = error_document("UsageError", message, 2)
    return Response(json.dumps(doc), status_code=status, media_type="application/json",
                    headers=getattr(exc, "headers", None))


def too_large(limit: int) -> Answer:
    """The 413 answer for a body over ``limit`` bytes."""
    message = (f"{REQUEST}: the body is over {limit:,} bytes (--max-body-bytes); send fewer rows per request, "
               "or start the server with a larger --max-body-bytes")
    return Answer(413, json.dumps(error_document("UsageError", message, 2)).encode())


async def _read_body(request: Any, limit: int) -> bytes | None:
    """The body, or None when it is over ``limit`` bytes (then read on to its end, up to ``_DRAIN_FACTOR`` times
    the limit and kept nowhere, so that the client, still sending, reads the 413 instead of a reset)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit * _DRAIN_FACTOR:
        return None  # not worth reading: the connection is closed after the answer
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            parts.append(chunk)
        elif size > limit * _DRAIN_FACTOR:
            break
    return b"".join(parts) if size <= limit else None


def app_from_env() -> Any:
    """The app of a ``--workers`` process (uvicorn's factory): the run and limit from the environment."""
    return make_app(os.environ[ENV_RUN_DIR], int(os.environ.get(ENV_MAX_BODY, MAX_BODY_BYTES)))


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one), bound before the model loads.

    Raises:
        UsageError: the port is in use, not allowed, or the host is not an address of this machine.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: not a known host name or address ({exc.strerror})") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once after a stop (TIME_WAIT)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        why = ("is already in use (another server?); choose another --port, or stop that server"
               if exc.errno == errno.EADDRINUSE else f"cannot be bound: {exc.strerror}")
        raise UsageError(f"--port {port}: {host}:{port} {why}") from None
    sock.set_inheritable(True)
    return sock


def run(sock: socket.socket, app_or_dir: Any, workers: int = 1, max_body_bytes: int = MAX_BODY_BYTES) -> None:
    """Serve on ``sock`` until SIGINT or SIGTERM: in-flight requests finish, then this returns.

    Args:
        app_or_dir: the app (one process), or the run directory (``workers`` > 1: each worker process loads
            the model itself, through ``app_from_env``).
        workers: processes answering on the one socket.
    """
    import uvicorn

    settings = {"log_level": "warning", "access_log": False, "timeout_graceful_shutdown": 30}
    if workers == 1:
        server = uvicorn.Server(uvicorn.Config(app_or_dir, **settings))
        stops: list[int] = []
        previous = {s: signal.signal(s, lambda signum, frame: stops.append(signum)) for s in (signal.SIGINT,
                                                                                            signal.SIGTERM)}
        try:  # uvicorn handles the signal, then raises it again for the handlers it found: ours, a no-op
            server.run(sockets=[sock])
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        return
    from uvicorn.supervisors import Multiprocess

    os.environ[ENV_RUN_DIR], os.environ[ENV_MAX_BODY] = str(app_or_dir), str(max_body_bytes)
    config = uvicorn.Config("nnrun.inference.server:app_from_env", factory=True, workers=workers, **settings)
    Multiprocess(config, sockets=[sock]).run()
