"""Plain JSON routes beside Gradio's queued API, for scripts and services that call often.

Gradio's named API (POST /gradio_api/call/<name>, then an event stream) sends every call through
the queue: right for the page and its progress bars, but it costs the server 10-20 ms of CPU per
call on top of the ~5 ms of scoring (benchmarks/load.py). A script that scores windows one by one
needs none of that:

    POST /api/v1/detect_window[?threshold=0.9]   body: the window JSON (a list of records, or
                                                 {"window": [...], "history": [...]})
    -> 200 and the same result as /detect_window (service.window_api); 400 {"error": ...} for bad
       input (the message names the record and field); 413 over the size limit.

Same validation, same read-only use of the shared baselines, same size limit as the page.
"""
from __future__ import annotations

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from .service import MonitorService

PREFIX = "/api/v1"


def rest_router(service: MonitorService) -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    limit = service.limits.max_bytes

    @router.post("/detect_window")
    async def detect_window(request: Request, threshold: float | None = Query(None, ge=0.0, le=1.0)) -> JSONResponse:
        """Score one window of 5-minute records (screening aid, not a diagnosis)."""
        body = bytearray()
        async for chunk in request.stream():  # read no further than the limit
            body += chunk
            if len(body) > limit:
                return JSONResponse({"error": f"the body is over the size limit of {limit:,} bytes"}, status_code=413)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return JSONResponse({"error": f"the body is not UTF-8 text: byte {exc.start}"}, status_code=400)
        result = await run_in_threadpool(service.window_api, text, threshold)
        return JSONResponse(result, status_code=400 if "error" in result else 200)

    return router


def add_rest_routes(app: FastAPI, service: MonitorService) -> None:
    """Serve the routes on a running Gradio app, ahead of Gradio's own (catch-all) routes."""
    before = len(app.router.routes)
    app.include_router(rest_router(service))
    added = app.router.routes[before:]
    app.router.routes[:] = added + app.router.routes[:before]
