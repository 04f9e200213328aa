"""Bybit v5 websockets: `/v5/private` (auth op, order/execution/position/wallet topics, text
ping/pong) and `/v5/public/linear` (`tickers.<SYMBOL>`, and `orderbook.<N>.<SYMBOL>` sent as a
snapshot on subscribe and on every price change; Bybit sends deltas after the first snapshot,
which ccxt applies the same way).

`BybitPushes` listens to the engine and fans each state change out to the sessions of the
account that subscribed to the matching topic.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from . import bybit_shapes as shapes
from .book import Account, Fill, Order, Position, Side
from .bybit_account import render_position
from .bybit_market import top
from .events import EventKind, SimEvent
from .faults import FaultKind
from .hub import SIM, Session

if TYPE_CHECKING:
    from .server import Simulator

VENUE = "bybit"
PRIVATE_TOPICS = {"order", "execution", "position", "wallet"}


class BybitPushes:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._ids = 0
        sim.engine.listeners.append(self.on_event)

    def on_event(self, event: SimEvent) -> None:
        if event.kind is EventKind.PRICE:
            symbol, _ = event.payload  # type: ignore[misc]
            self.push_ticker(symbol)
            self.push_book(symbol)
            return
        if event.venue != VENUE:
            return
        topic, data = self._render(event)
        for session in self.sim.hub.of(VENUE, event.account):
            if topic in session.topics:
                self.sim.hub.push(session, topic, self._envelope(topic, [data]))

    def _render(self, event: SimEvent) -> tuple[str, dict[str, Any]]:
        payload = event.payload
        if isinstance(payload, Order):
            return "order", shapes.order(payload)
        if isinstance(payload, Fill):
            account = self.sim.engine.accounts[payload.account]
            return "execution", shapes.execution(payload, account.orders.get(payload.order_id))
        if isinstance(payload, Position):
            return "position", render_position(self.sim, payload)
        if isinstance(payload, Account):
            return "wallet", shapes.wallet(payload, self.sim.engine.unrealized(payload))
        raise TypeError(f"no Bybit push for {payload!r}")

    def _envelope(self, topic: str, data: Any) -> dict[str, Any]:
        self._ids += 1
        return {"id": f"sim-{self._ids}", "topic": topic,
                "creationTime": self.sim.clock.now_ms(), "data": data}

    def push_ticker(self, symbol: str, only: Session | None = None) -> None:
        topic = f"tickers.{symbol}"
        inst = self.sim.feed.instruments[symbol]
        message = {"topic": topic, "type": "snapshot", "cs": self.sim.clock.now_ms(),
                   "ts": self.sim.clock.now_ms(),
                   "data": shapes.ticker(inst, self.sim.feed.price(symbol), *top(self.sim, symbol))}
        for session in [only] if only else self.sim.hub.of(VENUE):
            if topic in session.topics:
                self.sim.hub.push(session, topic, message)

    def push_book(self, symbol: str, only: Session | None = None) -> None:
        inst, mark = self.sim.feed.instruments[symbol], self.sim.feed.price(symbol)
        book, now = self.sim.engine.book, self.sim.clock.now_ms()
        for session in [only] if only else self.sim.hub.of(VENUE):
            for topic in [t for t in session.topics if t.startswith("orderbook.")
                          and t.endswith("." + symbol)]:
                depth = int(topic.split(".")[1]) if topic.split(".")[1].isdigit() else 1
                data = shapes.order_book(symbol, book.levels(inst, mark, Side.SELL, depth),
                                         book.levels(inst, mark, Side.BUY, depth), now,
                                         len(self.sim.feed.history[symbol]))
                self.sim.hub.push(session, topic, {"topic": topic, "type": "snapshot", "ts": now,
                                                   "data": data, "cts": now})


def _auth(sim: Simulator, args: list[Any]) -> Account | None:
    if len(args) != 3:
        return None
    key, expires, signature = (str(a) for a in args)
    account = sim.engine.account_by_key(VENUE, key)
    if account is None or not expires.isdigit() or int(expires) < sim.auth_clock.now_ms():
        return None
    expected = hmac.new(account.secret.encode(), f"GET/realtime{expires}".encode(),
                        hashlib.sha256).hexdigest()
    return account if hmac.compare_digest(expected, signature) else None


async def _on_message(sim: Simulator, session: Session, data: dict[str, Any],
                      private: bool) -> None:
    op, req_id = data.get("op"), data.get("req_id")
    answer: dict[str, Any] = {"conn_id": session.conn_id, "op": op}
    if req_id is not None:
        answer["req_id"] = req_id
    if op == "ping":
        if sim.faults.take(FaultKind.MISSING_PONG, VENUE) is None:
            await session.send_now({"req_id": req_id, "op": "pong",
                                    "args": [str(sim.clock.now_ms())], "conn_id": session.conn_id}
                                   if private else {**answer, "success": True, "ret_msg": "pong"})
        return
    if op == "auth":
        if sim.faults.take(FaultKind.MISSING_AUTH_ACK, VENUE) is not None:
            return
        account = _auth(sim, list(data.get("args") or []))
        session.account = account.id if account else None
        if account is None:     # Bybit echoes the request on failures; ccxt keys on it
            answer["request"] = {"op": op, "args": data.get("args")}
        await session.send_now({**answer, "success": account is not None,
                                "ret_msg": "" if account else "Request not authorized"})
        return
    if op in ("subscribe", "unsubscribe"):
        topics = [str(t) for t in data.get("args") or []]
        names = {t.split(".")[0] for t in topics}
        if private and (session.account is None or not names <= PRIVATE_TOPICS):
            reason = "Request not authorized" if session.account is None else "topic invalid"
            await session.send_now({**answer, "success": False, "ret_msg": reason})
            return
        wanted = names if private else set(topics)
        if op == "subscribe":
            session.topics |= wanted
        else:
            session.topics -= wanted
        await session.send_now({**answer, "success": True, "ret_msg": ""})
        if op == "subscribe" and not private:
            for topic in topics:
                symbol = topic.split(".")[-1]
                if symbol not in sim.feed.instruments:
                    continue
                if topic.startswith("tickers."):
                    sim.bybit.push_ticker(symbol, only=session)
                elif topic.startswith("orderbook."):
                    sim.bybit.push_book(symbol, only=session)
        return
    await session.send_now({**answer, "success": False, "ret_msg": f"error:invalid op {op}"})


def _handler(private: bool):
    async def handle(request: web.Request) -> web.WebSocketResponse:
        sim: Simulator = request.app[SIM]
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        session = sim.hub.open(Session(ws, VENUE, request, private=private))
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(message.data)
                except ValueError:
                    continue
                await _on_message(sim, session, data, private)
        finally:
            sim.hub.close(session)
        return ws
    return handle


def setup(app: web.Application, sim: Simulator) -> None:
    app.router.add_get("/v5/private", _handler(private=True))
    app.router.add_get("/v5/public/linear", _handler(private=False))
