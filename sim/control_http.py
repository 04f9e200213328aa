"""The HTTP twin of the control API: `/_sim/<action>`, JSON in, `{"result": ...}` out.

Decimals travel as strings. GET actions read their arguments from the query string, the others
from the JSON body; a missing or bad argument is HTTP 400 with `{"error": ...}`, an unknown
action 404. The table below is the whole surface (docs/simulator.md lists it).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .book import Rejected
from .faults import Fault
from .hub import SIM

if TYPE_CHECKING:
    from .server import Simulator

Args = dict[str, Any]
Action = Callable[["Simulator", Args], Any]


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes")


def _price(sim: Simulator, a: Args) -> Any:
    if "prices" in a:
        return sim.control.script_prices(a["symbol"], a["prices"])
    return sim.control.set_price(a["symbol"], a["price"])


def _faults(sim: Simulator, a: Args, method: str) -> Any:
    if method == "GET":
        return sim.control.faults()
    if method == "DELETE":
        return sim.control.clear_faults(a.get("kind"), a.get("venue"))
    return sim.faults.add(Fault.from_dict(a)).to_dict()


def _push_raw(sim: Simulator, a: Args) -> Any:
    """One `frame` or a list of `frames`; with `"encoding": "base64"` each is decoded to bytes."""
    frames = a["frames"] if "frames" in a else [a["frame"]]
    if not isinstance(frames, list):
        raise TypeError("frames: a list of strings")
    if a.get("encoding") == "base64":
        frames = [base64.b64decode(str(f)) for f in frames]
    return sim.control.push_raw(a.get("account", "bybit"), frames, _bool(a.get("private", True)),
                                _bool(a.get("public", True)), _bool(a.get("binary", False)))


ACTIONS: dict[str, Action] = {
    "urls": lambda sim, a: sim.urls(),
    "state": lambda sim, a: sim.control.state(a.get("account")),
    "requests": lambda sim, a: sim.control.requests(a.get("venue"), a.get("path")),
    "pushes": lambda sim, a: sim.control.pushes(a.get("venue")),
    "price": _price,
    "step": lambda sim, a: sim.control.step(int(a.get("count", 1)), a.get("symbols")),
    "open-position": lambda sim, a: sim.control.open_position(
        a.get("account", "bybit"), a["symbol"], a["side"], a["qty"]),
    "close-position": lambda sim, a: sim.control.close_position(a.get("account", "bybit"),
                                                                a["symbol"]),
    "expire-listen-key": lambda sim, a: sim.control.expire_listen_key(
        a.get("account", "binance"), _bool(a.get("close", False))),
    "book": lambda sim, a: sim.control.set_book(a.get("symbol"), a.get("spread_bps"),
                                                a.get("depth"), a.get("levels"),
                                                a.get("step_ticks")),
    "quotes": lambda sim, a: sim.control.quotes(a["symbol"]),
    "partial-fills": lambda sim, a: sim.control.set_partial_fills(int(a["parts"])),
    "liquidation": lambda sim, a: sim.control.set_liquidation(_bool(a["enabled"])),
    "maintenance-margin": lambda sim, a: sim.control.set_maintenance_margin(a["symbol"],
                                                                            a["rate"]),
    "position-mode": lambda sim, a: sim.control.set_position_mode(
        a.get("account", "bybit"), _bool(a["hedge"]), a.get("symbol")),
    "latency": lambda sim, a: sim.control.set_latency(float(a["latency_ms"]),
                                                      float(a.get("jitter_ms", 0))),
    "coverage": lambda sim, a: sim.control.coverage(a.get("account"), a.get("symbol")),
    "largest-naked": lambda sim, a: sim.control.largest_naked(a.get("account"), a.get("kind"),
                                                              a.get("symbol")),
    "push-raw": _push_raw,
}
ASYNC_ACTIONS: dict[str, Callable[[Simulator, Args], Awaitable[Any]]] = {
    "drop-websockets": lambda sim, a: sim.hub.drop(a.get("venue"), _bool(a.get("abrupt", False))),
}


async def _dispatch(request: web.Request) -> web.Response:
    sim: Simulator = request.app[SIM]
    action = request.match_info["action"]
    args: Args = dict(request.query)
    if request.can_read_body:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "the body is not JSON"}, status=400)
        args.update(body if isinstance(body, dict) else {})
    try:
        if action == "faults":
            result = _faults(sim, args, request.method)
        elif action in ASYNC_ACTIONS:
            result = await ASYNC_ACTIONS[action](sim, args)
        elif action in ACTIONS:
            result = ACTIONS[action](sim, args)
        else:
            return web.json_response({"error": f"unknown action {action}"}, status=404)
    except (KeyError, ValueError, TypeError, ArithmeticError, Rejected) as err:
        return web.json_response({"error": f"{type(err).__name__}: {err}"}, status=400)
    return web.json_response({"result": result})


def setup(app: web.Application) -> None:
    app.router.add_route("*", "/_sim/{action}", _dispatch)
