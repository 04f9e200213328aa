"""Binance USD-M websockets: the user data stream and the public mark-price stream.

User data: `/private/ws?listenKey=KEY` (what ccxt.pro uses) or `/ws/KEY` (the classic path); no
auth or subscribe message, pushes ORDER_TRADE_UPDATE (execution type `x` NEW, TRADE, CANCELED,
EXPIRED, AMENDMENT, and CALCULATED with client id `autoclose-...` for a liquidation, see
https://developers.binance.com/docs/derivatives/usds-margined-futures/user-data-streams/
Event-Order-Update), ACCOUNT_UPDATE, ALGO_UPDATE and `listenKeyExpired`. Market: `/market/ws/<n>`,
`/public/ws/<n>` or `/ws` with `{"method":"SUBSCRIBE","params":["btcusdt@markPrice@1s"],"id":1}`;
streams `<symbol>@markPrice[@1s]`, `!markPrice@arr[@1s]`, `<symbol>@ticker` (24hrTicker, what
ccxt's watch_ticker subscribes), `!ticker@arr` and `<symbol>@bookTicker`.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from . import binance_shapes as shapes
from .binance_market import book_ticker, ticker_24h
from .book import Account, Fill, Order, OrderKind
from .events import Action, EventKind, SimEvent
from .hub import SIM, Session
from .market import fmt

if TYPE_CHECKING:
    from .server import Simulator

VENUE = "binance"
TICKER_STREAMS = {"!ticker@arr", "!miniticker@arr"}
EXEC_TYPE = {Action.CREATED: "NEW", Action.TRADE: "TRADE", Action.AMENDED: "AMENDMENT",
             Action.UPDATED: "NEW"}


class ListenKeys:
    """One live listenKey per account, as on Binance (POST returns the live one if any)."""

    def __init__(self) -> None:
        self.live: dict[str, str] = {}
        self._count = 0

    def create(self, account: Account) -> str:
        if account.id not in self.live:
            self._count += 1
            seed = f"{account.id}:{self._count}".encode()
            self.live[account.id] = hashlib.sha256(seed).hexdigest()
        return self.live[account.id]

    def keepalive(self, account: Account) -> str | None:
        return self.live.get(account.id)

    def delete(self, account: Account) -> str | None:
        return self.live.pop(account.id, None)

    def owner(self, key: str) -> str | None:
        return next((a for a, k in self.live.items() if k == key), None)


class BinancePushes:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.listen_keys = ListenKeys()
        sim.engine.listeners.append(self.on_event)

    def on_event(self, event: SimEvent) -> None:
        if event.kind is EventKind.PRICE:
            self._mark_price(*event.payload)  # type: ignore[misc]
            self._tickers(event.payload[0])  # type: ignore[index]
            return
        if event.venue != VENUE or event.account is None:
            return
        account = self.sim.engine.accounts[event.account]
        now = self.sim.clock.now_ms()
        messages: list[dict[str, Any]] = []
        if isinstance(event.payload, Fill):
            messages.append(self._account_update(account, event.payload, now))
        elif isinstance(event.payload, Order):
            o = event.payload
            if o.kind is OrderKind.PLAIN or (o.triggered_ms is not None
                                             and event.action is Action.TRADE):
                messages.append(self._order_update(account, o, now, event.action))
            if o.kind is OrderKind.CONDITIONAL:
                messages.append(self._algo_update(o, now))
        for message in messages:
            for session in self.sim.hub.of(VENUE, account.id):
                if "user" in session.topics:
                    self.sim.hub.push(session, message["e"], message)

    def _order_update(self, account: Account, o: Order, now: int,
                      action: Action | None) -> dict[str, Any]:
        fill = next((f for f in reversed(account.fills) if f.order_id == o.id), None)
        traded = action is Action.TRADE and fill is not None
        body = {"s": o.symbol, "c": o.client_id, "S": o.side.name,
                "o": "LIMIT" if o.is_limit else "MARKET", "f": shapes.time_in_force(o),
                "q": fmt(o.qty), "p": fmt(o.price) if o.price is not None else "0",
                "ap": fmt(o.avg_price) or "0", "sp": fmt(o.trigger_price) or "0",
                "x": self._exec_type(o, action), "X": shapes.status(o), "i": o.id,
                "l": fmt(fill.qty) if traded else "0", "z": fmt(o.filled_qty),
                "L": fmt(fill.price) if traded else "0", "N": "USDT",
                "n": fmt(fill.fee) if traded else "0", "T": o.updated_ms,
                "t": fill.id if traded else 0, "b": "0", "a": "0",
                "m": bool(traded and fill.maker), "R": o.reduce_only, "wt": "CONTRACT_PRICE",
                "ot": shapes.order_type(o), "ps": shapes.POSITION_SIDE[o.position_idx],
                "cp": o.close_position, "rp": fmt(fill.realized_pnl) if traded else "0",
                "pP": False, "si": 0, "ss": 0, "V": "EXPIRE_MAKER", "pm": "NONE", "gtd": 0}
        return {"e": "ORDER_TRADE_UPDATE", "E": now, "T": o.updated_ms, "o": body}

    @staticmethod
    def _exec_type(o: Order, action: Action | None) -> str:
        if action is Action.TRADE and shapes.is_liquidation(o):
            return "CALCULATED"
        if action is Action.CANCELLED:
            return "EXPIRED" if shapes.status(o) == "EXPIRED" else "CANCELED"
        return EXEC_TYPE.get(action, "NEW") if action else "NEW"

    def _algo_update(self, o: Order, now: int) -> dict[str, Any]:
        body = {"caid": o.client_id, "aid": o.id, "at": "CONDITIONAL", "o": shapes.order_type(o),
                "s": o.symbol, "S": o.side.name, "ps": shapes.POSITION_SIDE[o.position_idx],
                "f": "GTC", "q": fmt(o.qty),
                "X": shapes.ALGO_STATUS[o.status], "ai": str(o.id) if o.filled_qty else "",
                "ap": fmt(o.avg_price) or "0", "aq": fmt(o.filled_qty),
                "tp": fmt(o.trigger_price), "p": "0", "V": "EXPIRE_MAKER",
                "wt": "CONTRACT_PRICE", "pm": "NONE", "cp": o.close_position, "pP": False,
                "R": o.reduce_only, "tt": o.triggered_ms or 0, "gtd": 0, "rm": ""}
        return {"e": "ALGO_UPDATE", "T": o.updated_ms, "E": now, "o": body}

    def _account_update(self, account: Account, fill: Fill, now: int) -> dict[str, Any]:
        order = account.orders[fill.order_id]
        pos = account.position(fill.symbol, order.position_idx)
        mark = self.sim.feed.price(fill.symbol)
        return {"e": "ACCOUNT_UPDATE", "E": now, "T": fill.time_ms, "a": {
            "m": "ORDER",
            "B": [{"a": account.asset, "wb": fmt(account.wallet), "cw": fmt(account.wallet),
                   "bc": "0"}],
            "P": [{"s": pos.symbol, "pa": fmt(pos.qty), "ep": fmt(pos.entry_price),
                   "bep": fmt(pos.entry_price), "cr": fmt(pos.realized_pnl),
                   "up": fmt(pos.unrealized(mark)), "mt": "cross", "iw": "0",
                   "ps": shapes.POSITION_SIDE[pos.idx],
                   "ma": "USDT"}]}}

    def answer_subscription(self, session: Session, streams: list[str]) -> None:
        """The streams tick on their own on the venue; answer a new subscription at once."""
        for symbol in self.sim.feed.instruments:
            low = symbol.lower()
            if any(s.startswith((low + "@markprice", "!markprice")) for s in streams):
                self._mark_price(symbol, self.sim.feed.price(symbol))
            if any(s in TICKER_STREAMS or (s.startswith(low + "@") and s[len(low) + 1:]
                   in ("ticker", "miniticker", "bookticker")) for s in streams):
                self._tickers(symbol, only=session)

    def _tickers(self, symbol: str, only: Session | None = None) -> None:
        low, now = symbol.lower(), self.sim.clock.now_ms()
        stats: dict[str, Any] | None = None
        for session in [only] if only else self.sim.hub.of(VENUE):
            for full, single, every in ((True, low + "@ticker", "!ticker@arr"),
                                        (False, low + "@miniticker", "!miniticker@arr")):
                if not session.topics & {single, every}:
                    continue
                stats = stats or ticker_24h(self.sim, symbol)
                event = self._ticker_event(symbol, stats, now, full)
                many = single not in session.topics
                self.sim.hub.push(session, event["e"], [event] if many else event)
            if low + "@bookticker" in session.topics:
                book = book_ticker(self.sim, symbol)
                self.sim.hub.push(session, "bookTicker", {
                    "e": "bookTicker", "u": book["lastUpdateId"], "E": now, "T": now,
                    "s": symbol, "b": book["bidPrice"], "B": book["bidQty"],
                    "a": book["askPrice"], "A": book["askQty"]})

    def _mark_price(self, symbol: str, price: Any) -> None:
        now = self.sim.clock.now_ms()
        event = {"e": "markPriceUpdate", "E": now, "s": symbol, "p": fmt(price),
                 "i": fmt(price), "P": fmt(price), "r": "0.00010000", "T": now + 3_600_000}
        single = {f"{symbol.lower()}@markprice@1s", f"{symbol.lower()}@markprice"}
        for session in self.sim.hub.of(VENUE):
            if session.topics & single:
                self.sim.hub.push(session, "markPriceUpdate", event)
            elif session.topics & {"!markprice@arr@1s", "!markprice@arr"}:
                self.sim.hub.push(session, "markPriceUpdate", [event])

    @staticmethod
    def _ticker_event(symbol: str, stats: dict[str, Any], now: int, full: bool) -> dict[str, Any]:
        """24hrTicker (full) or 24hrMiniTicker, from the REST 24hr statistics."""
        event = {"e": "24hrTicker" if full else "24hrMiniTicker", "E": now, "s": symbol,
                 "c": stats["lastPrice"], "o": stats["openPrice"], "h": stats["highPrice"],
                 "l": stats["lowPrice"], "v": stats["volume"], "q": stats["quoteVolume"]}
        if full:
            event.update({"p": stats["priceChange"], "P": stats["priceChangePercent"],
                          "w": stats["weightedAvgPrice"], "Q": "0", "O": stats["openTime"],
                          "C": now, "F": 0, "L": 0, "n": stats["count"]})
        return event

    def expire(self, account: Account, close: bool = False) -> int:
        """Expire the account's listenKey: push listenKeyExpired, then go silent (or close)."""
        key = self.listen_keys.delete(account)
        victims = [s for s in self.sim.hub.of(VENUE, account.id) if s.listen_key == key]
        for session in victims:
            message = {"e": "listenKeyExpired", "E": self.sim.clock.now_ms(), "listenKey": key}
            session.enqueue(json.dumps(message))
            session.silenced = True
            if close:
                session.enqueue(None)          # the writer closes the socket on this marker
        return len(victims)


async def _serve(sim: Simulator, request: web.Request,
                 session_args: dict[str, Any]) -> web.StreamResponse:
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    session = sim.hub.open(Session(ws, VENUE, request, **session_args))
    try:
        async for message in ws:
            if message.type is not WSMsgType.TEXT or session.listen_key:
                continue
            try:
                data = json.loads(message.data)
            except ValueError:
                continue
            method, streams = data.get("method"), [str(p).lower() for p in data.get("params", [])]
            if method == "SUBSCRIBE":
                session.topics |= set(streams)
            elif method == "UNSUBSCRIBE":
                session.topics -= set(streams)
            result = sorted(session.topics) if method == "LIST_SUBSCRIPTIONS" else None
            await session.send_now({"result": result, "id": data.get("id")})
            if method == "SUBSCRIBE":
                sim.binance.answer_subscription(session, streams)
    finally:
        sim.hub.close(session)
    return ws


async def _stream(request: web.Request) -> web.StreamResponse:
    sim: Simulator = request.app[SIM]
    key = request.query.get("listenKey") or request.match_info.get("tail", "")
    if request.path.startswith("/private/ws") or sim.binance.listen_keys.owner(key):
        account = sim.binance.listen_keys.owner(key)
        if account is None:
            return web.json_response({"code": -1125, "msg": "This listenKey does not exist."},
                                     status=400)
        return await _serve(sim, request, {"account": account, "listen_key": key,
                                           "topics": {"user"}, "private": True})
    return await _serve(sim, request, {})


def setup(app: web.Application, sim: Simulator) -> None:
    for path in ("/private/ws", "/ws", "/ws/{tail}", "/market/ws", "/market/ws/{tail}",
                 "/public/ws", "/public/ws/{tail}"):
        app.router.add_get(path, _stream)
