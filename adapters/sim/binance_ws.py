"""Binance USD-M websockets (placeholder, filled in next)."""

from __future__ import annotations

from aiohttp import web


class BinancePushes:
    def __init__(self, sim: object) -> None:
        self.sim = sim

    def expire(self, account: object, close: bool) -> int:
        return 0


def setup(app: web.Application, sim: object) -> None:
    return None
