"""Binance USD-M REST surface of the simulator (placeholder, filled in next)."""

from __future__ import annotations

from aiohttp import web


def rate_limited() -> web.Response:
    return web.json_response({"code": -1003, "msg": "Too many requests."}, status=429)


def setup(app: web.Application, sim: object) -> None:
    return None
