"""Operations endpoints (no auth): liveness, readiness, Prometheus metrics, the API page."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from cdconnect.errors import CDConnectError
from cdconnect.models import ConnectionStatus
from cdconnect.web.context import ServiceContext, service_context
from cdconnect.web.metrics import render_metrics
from cdconnect.web.pages import STYLESHEET
from cdconnect.web.schemas import HealthOut

log = logging.getLogger("cdconnect.web.ops")

Context = Annotated[ServiceContext, Depends(service_context)]
router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut, summary="Liveness: the process is up")
async def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    response_model=HealthOut,
    responses={503: {"model": HealthOut}},
    summary="Readiness: the database answers, its schema is current, stored tokens decrypt",
)
def readyz(context: Context) -> JSONResponse:
    checks = context.manager.check_ready()
    ready = all(result == "ok" for result in checks.values())
    body = HealthOut(status="ready" if ready else "not_ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics (text exposition format)")
def metrics(context: Context) -> Response:
    try:
        counts: dict[ConnectionStatus, int] | None = context.manager.count_by_status()
    except CDConnectError as exc:
        log.warning("metrics: connections could not be counted: %s", exc.code)
        counts = None
    return Response(render_metrics(counts), media_type=CONTENT_TYPE_LATEST)


@router.get("/assets/cdconnect.css", include_in_schema=False)
async def stylesheet() -> Response:
    return Response(STYLESHEET, media_type="text/css")


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    operations = []
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "admin": bool(operation.get("security")),
                }
            )
    return operations


@router.get("/docs", include_in_schema=False, response_class=HTMLResponse)
async def api_page(request: Request, context: Context) -> HTMLResponse:
    # Our own small page instead of Swagger UI, which would load scripts from a CDN (and
    # need a CSP that allows them).
    schema = request.app.openapi()
    return context.pages.render(
        "api.html",
        title=schema["info"]["title"],
        version=schema["info"]["version"],
        operations=_operations(schema),
    )
