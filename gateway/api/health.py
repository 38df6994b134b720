"""Liveness and readiness: the store answers and the telemetry backlog is within its bound."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from gateway.api.deps import ServiceDep, StoreDep, WriterDep
from gateway.auth.gate import allow, public

router = APIRouter()


@router.get("/healthz", **public())
def healthz(request: Request, store: StoreDep, writer: WriterDep, service: ServiceDep):
    try:
        store.query("SELECT 1")
        store_ok = True
    except Exception:
        store_ok = False
    stats = writer.stats()
    ok = store_ok and stats["dropped"] == 0 and not stats["spool_over_bound"]
    body = {"status": "ok" if ok else "degraded", "store": "ok" if store_ok else "unreachable",
            "telemetry": stats, "models": service.live_aliases(), "prices": request.app.state.price_version}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", **allow("admin", "engineer"))
async def metrics(request: Request, service: ServiceDep, writer: WriterDep):
    """Prometheus exposition. Scrape with a key (`authorization: {type: Bearer, credentials: ...}`)."""
    return Response(await request.app.state.metrics.render(service, writer), media_type=CONTENT_TYPE_LATEST)
