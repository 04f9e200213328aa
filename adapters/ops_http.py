"""The operator endpoints: ``GET /healthz`` (503 when not safe to trade, naming what is at fault, each
feed's state included) and ``GET /metrics``."""

from __future__ import annotations

from aiohttp import web

from warden.adapters.metrics import CONTENT_TYPE, Metrics
from warden.adapters.service import WardenService


def ops_app(service: WardenService, metrics: Metrics) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        health = service.health()
        return web.json_response(health, status=200 if health["ok"] else 503)

    async def metrics_endpoint(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(service.feeds()), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_endpoint)
    return app
