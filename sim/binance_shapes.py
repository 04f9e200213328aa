"""Binance USD-M wire shapes: REST objects, user-data-stream events and error codes.

Shapes follow /work/shared/reference/exchange-wire.md and the USD-M docs
(https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/New-Order,
.../Modify-Order, .../user-data-streams/Event-Order-Update). Conditional orders are Binance "algo
orders" (`algoId`, `algoStatus`); once one fires, the same engine order is also visible as the
regular MARKET order it became (`origType` STOP_MARKET), as on the venue.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .book import (
    Account,
    Closure,
    Fill,
    Order,
    OrderKind,
    OrderStatus,
    OrderType,
    Origin,
    Position,
    Reason,
    TimeInForce,
)
from .candles import Candle
from .market import Instrument, decimals_of, fmt

ORDER_STATUS = {OrderStatus.NEW: "NEW", OrderStatus.UNTRIGGERED: "NEW",
                OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
                OrderStatus.FILLED: "FILLED", OrderStatus.CANCELLED: "CANCELED",
                OrderStatus.DEACTIVATED: "EXPIRED", OrderStatus.REJECTED: "REJECTED"}
ALGO_STATUS = {OrderStatus.NEW: "TRIGGERED", OrderStatus.UNTRIGGERED: "NEW",
               OrderStatus.PARTIALLY_FILLED: "TRIGGERED",
               OrderStatus.FILLED: "FINISHED", OrderStatus.CANCELLED: "CANCELED",
               OrderStatus.DEACTIVATED: "EXPIRED", OrderStatus.REJECTED: "REJECTED"}
# the venue itself ended these orders: Binance says EXPIRED, not CANCELED
EXPIRING = {Closure.REDUCE_ONLY, Closure.UNFILLED, Closure.POST_ONLY}
TIME_IN_FORCE = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK,
                 "GTX": TimeInForce.POST_ONLY}
TIF_NAME = {v: k for k, v in TIME_IN_FORCE.items()}
POSITION_SIDE = {0: "BOTH", 1: "LONG", 2: "SHORT"}

# (HTTP status, code, message) per engine reason; "{...}" come from the rejection's context.
ERRORS: dict[Reason, tuple[int, int, str]] = {
    Reason.UNKNOWN_SYMBOL: (400, -1121, "Invalid symbol."),
    Reason.PRICE_BELOW_MIN: (400, -4013, "Price less than min price."),
    Reason.PRICE_ABOVE_MAX: (400, -4007, "Stop price greater than max price."),
    Reason.PRICE_OFF_TICK: (400, -4014, "Price not increased by tick size."),
    Reason.PRICE_BAND_HIGH: (400, -4016, "Limit price can't be higher than {limit}."),
    Reason.PRICE_BAND_LOW: (400, -4024, "Limit price can't be lower than {limit}."),
    Reason.QTY_BELOW_MIN: (400, -4003, "Quantity less than or equal to zero."),
    Reason.QTY_ABOVE_MAX: (400, -4005, "Quantity greater than max quantity."),
    Reason.QTY_OFF_STEP: (400, -4023, "Quantity not increased by step size."),
    Reason.NOTIONAL_BELOW_MIN: (400, -4164, "Order's notional must be no smaller than {limit} "
                                            "(unless you choose reduce only)."),
    Reason.REDUCE_ONLY_REJECTED: (400, -2022, "ReduceOnly Order is rejected."),
    Reason.WOULD_TRIGGER_IMMEDIATELY: (400, -2021, "Order would immediately trigger."),
    Reason.STOP_WRONG_SIDE: (400, -2021, "Order would immediately trigger."),
    Reason.NO_POSITION: (400, -4509, "Time in Force (TIF) GTE can only be used with open "
                                     "positions or open orders. Please ensure that positions "
                                     "or open orders are available."),
    Reason.ORDER_NOT_FOUND: (400, -2013, "Order does not exist."),
    Reason.NOT_MODIFIED: (400, -4046, "No need to change."),
    Reason.ORDER_NOT_MODIFIED: (400, -5027, "No need to modify the order."),
    Reason.AMEND_NOT_SUPPORTED: (400, -5025, "Only limit order is supported."),
    Reason.LEVERAGE_NOT_MODIFIED: (400, -4046, "No need to change."),
    Reason.LEVERAGE_INVALID: (400, -4028, "Leverage {detail} is not valid"),
    Reason.INSUFFICIENT_MARGIN: (400, -2019, "Margin is insufficient."),
    Reason.BAD_PARAM: (400, -1102, "{detail}"),
    Reason.DUPLICATE_CLIENT_ID: (400, -4116, "ClientOrderId is duplicated."),
    Reason.POST_ONLY_WOULD_TAKE: (400, -5022, "Due to the order could not be executed as maker, "
                                              "the Post Only order will be rejected. The order "
                                              "will not be recorded in the order history"),
    Reason.FOK_UNFILLABLE: (400, -5021, "Due to the order could not be filled immediately, the "
                                        "FOK order has been rejected. The order will not be "
                                        "recorded in the order history"),
    Reason.POSITION_IDX_MISMATCH: (400, -4061, "Order's position side does not match user's "
                                               "setting."),
    Reason.CLOSE_POSITION_EXISTS: (400, -4130, "An open stop or take profit order with GTE and "
                                               "closePosition in the direction is existing."),
    Reason.MODE_NOT_MODIFIED: (400, -4059, "No need to change position side."),
    Reason.MODE_HAS_POSITION: (400, -4068, "Position side cannot be changed if there exists "
                                           "position."),
    Reason.MODE_HAS_ORDERS: (400, -4067, "Position side cannot be changed if there exists open "
                                         "orders."),
}
PRECISION = (400, -1111, "Precision is over the maximum defined for this asset.")


def error_for(reason: Reason, detail: str, context: dict[str, Any]) -> tuple[int, int, str]:
    """Too many decimals is -1111; within the precision but off the tick/step is -4014/-4023."""
    limit = context.get("limit")
    off_grid = reason in (Reason.PRICE_OFF_TICK, Reason.QTY_OFF_STEP)
    if off_grid and isinstance(limit, Decimal) and decimals_of(Decimal(detail)) > decimals_of(limit):
        return PRECISION
    status, code, template = ERRORS[reason]
    return status, code, template.format(detail=detail, limit=fmt(limit))  # type: ignore[arg-type]


def order_type(o: Order) -> str:
    if o.kind is OrderKind.PLAIN:
        return "LIMIT" if o.is_limit else "MARKET"
    return ("TAKE_PROFIT_MARKET" if o.order_type is OrderType.TAKE_PROFIT_MARKET
            else "STOP_MARKET")


def status(o: Order) -> str:
    if o.status is OrderStatus.CANCELLED and o.closure in EXPIRING:
        return "EXPIRED"
    return ORDER_STATUS[o.status]


def time_in_force(o: Order) -> str:
    return TIF_NAME[o.time_in_force] if o.is_limit else "GTC"


def order(o: Order, stale: bool = False) -> dict[str, Any]:
    """A regular order; `stale` shows it with no average price, as ccxt #6093 saw it."""
    filled = Decimal(0) if stale else o.filled_qty
    regular_type = "LIMIT" if o.is_limit else "MARKET"
    return {
        "orderId": o.id, "symbol": o.symbol, "status": status(o),
        "clientOrderId": o.client_id, "price": fmt(o.price) if o.price is not None else "0",
        "avgPrice": "0.00" if stale or o.avg_price is None else fmt(o.avg_price),
        "origQty": fmt(o.qty), "executedQty": fmt(filled), "cumQty": fmt(filled),
        "cumQuote": "0" if stale else fmt(o.cum_quote), "timeInForce": time_in_force(o),
        "type": regular_type, "origType": order_type(o), "reduceOnly": o.reduce_only,
        "closePosition": o.close_position, "side": o.side.name,
        "positionSide": POSITION_SIDE[o.position_idx], "stopPrice": fmt(o.trigger_price) or "0",
        "workingType": "CONTRACT_PRICE", "priceProtect": False, "priceMatch": "NONE",
        "selfTradePreventionMode": "NONE", "goodTillDate": 0, "time": o.created_ms,
        "updateTime": o.updated_ms,
    }


def algo_order(o: Order) -> dict[str, Any]:
    done = o.status is OrderStatus.FILLED
    return {
        "algoId": o.id, "clientAlgoId": o.client_id, "algoType": "CONDITIONAL",
        "orderType": order_type(o), "symbol": o.symbol, "side": o.side.name,
        "positionSide": POSITION_SIDE[o.position_idx], "timeInForce": "GTC",
        "quantity": fmt(o.qty), "algoStatus": ALGO_STATUS[o.status],
        "actualOrderId": str(o.id) if done else "",
        "actualPrice": fmt(o.avg_price) if done else "0", "triggerPrice": fmt(o.trigger_price),
        "price": "0", "icebergQuantity": None, "tpTriggerPrice": "0", "tpPrice": "0",
        "slTriggerPrice": "0", "slPrice": "0", "tpOrderType": "", "selfTradePreventionMode":
        "EXPIRE_MAKER", "workingType": "CONTRACT_PRICE", "priceMatch": "NONE",
        "closePosition": o.close_position, "priceProtect": False, "reduceOnly": o.reduce_only,
        "createTime": o.created_ms, "updateTime": o.updated_ms,
        "triggerTime": o.triggered_ms or 0, "goodTillDate": 0,
    }


def user_trade(f: Fill, o: Order | None) -> dict[str, Any]:
    return {"id": f.id, "orderId": f.order_id, "symbol": f.symbol, "side": f.side.name,
            "price": fmt(f.price), "qty": fmt(f.qty), "quoteQty": fmt(f.quote),
            "commission": fmt(f.fee), "commissionAsset": "USDT",
            "realizedPnl": fmt(f.realized_pnl), "marginAsset": "USDT", "maker": f.maker,
            "buyer": f.side.name == "BUY",
            "positionSide": POSITION_SIDE[o.position_idx if o else 0], "time": f.time_ms}


def position_risk(p: Position, mark: Decimal, inst: Instrument,
                  liquidation: Decimal | None = None) -> dict[str, Any]:
    notional = p.qty * mark
    return {"symbol": p.symbol, "positionSide": POSITION_SIDE[p.idx], "positionAmt": fmt(p.qty),
            "entryPrice": fmt(p.entry_price), "breakEvenPrice": fmt(p.entry_price),
            "markPrice": fmt(mark), "unRealizedProfit": fmt(p.unrealized(mark)),
            "liquidationPrice": fmt(liquidation) if liquidation else "0", "isolatedMargin": "0",
            "notional": fmt(notional), "marginAsset": "USDT", "isolatedWallet": "0",
            "initialMargin": fmt(abs(notional) / p.leverage),
            "maintMargin": fmt(abs(notional) * inst.maint_margin),
            "positionInitialMargin": fmt(abs(notional) / p.leverage), "openOrderInitialMargin": "0",
            "adl": 0, "bidNotional": "0", "askNotional": "0", "updateTime": p.updated_ms}


def account(a: Account, unrealized: Decimal, now_ms: int) -> dict[str, Any]:
    im = sum((p.size * p.entry_price / p.leverage for p in a.positions.values()), Decimal(0))
    margin = a.wallet + unrealized
    asset = {"asset": a.asset, "walletBalance": fmt(a.wallet), "unrealizedProfit": fmt(unrealized),
             "marginBalance": fmt(margin), "maintMargin": "0", "initialMargin": fmt(im),
             "positionInitialMargin": fmt(im), "openOrderInitialMargin": "0",
             "crossWalletBalance": fmt(a.wallet), "crossUnPnl": fmt(unrealized),
             "availableBalance": fmt(margin - im), "maxWithdrawAmount": fmt(margin - im),
             "updateTime": now_ms}
    positions = [{"symbol": p.symbol, "positionSide": POSITION_SIDE[p.idx],
                  "positionAmt": fmt(p.qty),
                  "unrealizedProfit": fmt(p.unrealized(p.entry_price)), "isolatedMargin": "0",
                  "notional": fmt(p.qty * p.entry_price), "isolatedWallet": "0",
                  "initialMargin": "0", "maintMargin": "0", "updateTime": p.updated_ms}
                 for p in a.positions.values() if p.qty]
    return {"totalInitialMargin": fmt(im), "totalMaintMargin": "0",
            "totalWalletBalance": fmt(a.wallet), "totalUnrealizedProfit": fmt(unrealized),
            "totalMarginBalance": fmt(margin), "totalPositionInitialMargin": fmt(im),
            "totalOpenOrderInitialMargin": "0", "totalCrossWalletBalance": fmt(a.wallet),
            "totalCrossUnPnl": fmt(unrealized), "availableBalance": fmt(margin - im),
            "maxWithdrawAmount": fmt(margin - im), "assets": [asset], "positions": positions}


def symbol_info(i: Instrument) -> dict[str, Any]:
    return {
        "symbol": i.symbol, "pair": i.symbol, "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000, "onboardDate": 1569398400000, "status": "TRADING",
        "baseAsset": i.base, "quoteAsset": i.quote, "marginAsset": i.quote,
        "pricePrecision": i.price_decimals, "quantityPrecision": i.qty_decimals,
        "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
        "underlyingSubType": [], "triggerProtect": "0.0500", "liquidationFee": "0.012500",
        "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": fmt(i.min_price),
             "maxPrice": fmt(i.max_price), "tickSize": fmt(i.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": fmt(i.min_qty), "maxQty": fmt(i.max_qty),
             "stepSize": fmt(i.qty_step)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": fmt(i.min_qty),
             "maxQty": fmt(i.max_qty), "stepSize": fmt(i.qty_step)},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": fmt(i.min_notional)},
            {"filterType": "PERCENT_PRICE", "multiplierUp": fmt(PRICE_BAND[1]),
             "multiplierDown": fmt(PRICE_BAND[0]), "multiplierDecimal": "4"},
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT",
                       "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }


PRICE_BAND = (Decimal("0.95"), Decimal("1.05"))     # PERCENT_PRICE multiplierDown / Up


def leverage_bracket(i: Instrument) -> dict[str, Any]:
    return {"symbol": i.symbol, "brackets": [
        {"bracket": 1, "initialLeverage": i.max_leverage, "notionalCap": 50000,
         "notionalFloor": 0, "maintMarginRatio": float(i.maint_margin), "cum": 0.0},
        {"bracket": 2, "initialLeverage": 20, "notionalCap": 10000000,
         "notionalFloor": 50000, "maintMarginRatio": 0.01, "cum": 300.0}]}


def kline(c: Candle, interval_ms: int) -> list[Any]:
    return [c.open_ms, fmt(c.open), fmt(c.high), fmt(c.low), fmt(c.close), fmt(c.volume),
            c.open_ms + interval_ms - 1, fmt(c.turnover), c.trades, "0", "0", "0"]


def ticker_24h(symbol: str, day: Candle, now_ms: int) -> dict[str, Any]:
    change = day.close - day.open
    return {"symbol": symbol, "priceChange": fmt(change),
            "priceChangePercent": fmt((change / day.open * 100).quantize(Decimal("0.001"))),
            "weightedAvgPrice": fmt(day.turnover / day.volume if day.volume else day.close),
            "lastPrice": fmt(day.close), "lastQty": "0", "openPrice": fmt(day.open),
            "highPrice": fmt(day.high), "lowPrice": fmt(day.low), "volume": fmt(day.volume),
            "quoteVolume": fmt(day.turnover), "openTime": day.open_ms, "closeTime": now_ms,
            "firstId": 0, "lastId": 0, "count": day.trades}


def is_liquidation(o: Order) -> bool:
    return o.origin is Origin.LIQUIDATION
