"""Bybit v5 wire shapes: how engine state looks in REST results and websocket pushes.

Field names and value formats follow /work/shared/reference/exchange-wire.md and the v5 docs
(https://bybit-exchange.github.io/docs/v5/enum for orderStatus, cancelType, rejectReason,
createType and execType). Also holds the table that turns an engine `Reason` into Bybit's
retCode/retMsg (https://bybit-exchange.github.io/docs/v5/error).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from .book import (
    Account,
    Closure,
    Fill,
    Order,
    OrderKind,
    OrderStatus,
    Origin,
    Position,
    Reason,
    Side,
    TimeInForce,
)
from .candles import Candle
from .depth import Piece
from .market import Instrument, fmt

STATUS = {OrderStatus.NEW: "New", OrderStatus.UNTRIGGERED: "Untriggered",
          OrderStatus.PARTIALLY_FILLED: "PartiallyFilled", OrderStatus.FILLED: "Filled",
          OrderStatus.CANCELLED: "Cancelled", OrderStatus.DEACTIVATED: "Deactivated",
          OrderStatus.REJECTED: "Rejected"}
STOP_TYPE = {OrderKind.PLAIN: "", OrderKind.CONDITIONAL: "Stop",
             OrderKind.POSITION_SL: "StopLoss"}
CREATE_TYPE = {OrderKind.PLAIN: "CreateByUser", OrderKind.CONDITIONAL: "CreateByStopOrder",
               OrderKind.POSITION_SL: "CreateByStopLoss"}
CANCEL_TYPE = {Closure.BY_USER: "CancelByUser", Closure.REDUCE_ONLY: "CancelByReduceOnly",
               Closure.BEFORE_LIQUIDATION: "CancelAllBeforeLiq",
               Closure.AMENDED_AWAY: "CancelByUser"}
REJECT_REASON = {Closure.POST_ONLY: "EC_PostOnlyWillTakeLiquidity",
                 Closure.UNFILLED: "EC_NoImmediateQtyToFill"}

# retCode and message per engine reason; "{...}" fields come from Rejected.detail/context.
ERRORS: dict[Reason, tuple[int, str]] = {
    Reason.UNKNOWN_SYMBOL: (10001, "params error: symbol invalid"),
    Reason.PRICE_BELOW_MIN: (10001, "price must be greater than minimum price precision"),
    Reason.PRICE_ABOVE_MAX: (10001, "price must be less than maximum price {limit}"),
    Reason.PRICE_OFF_TICK: (10001, "price must be greater than minimum price precision"),
    Reason.PRICE_BAND_HIGH: (110003, "Order price exceeds the allowable range."),
    Reason.PRICE_BAND_LOW: (110003, "Order price exceeds the allowable range."),
    Reason.QTY_BELOW_MIN: (10001, "The number of contracts exceeds minimum limit allowed"),
    Reason.QTY_ABOVE_MAX: (10001, "The number of contracts exceeds maximum limit allowed"),
    Reason.QTY_OFF_STEP: (10001, "Qty invalid: must be a multiple of qtyStep {limit}"),
    Reason.NOTIONAL_BELOW_MIN: (110094, "Order does not meet minimum order value {limit}USDT"),
    Reason.REDUCE_ONLY_REJECTED: (110017,
                                  "current position is zero, cannot fix reduce-only order qty"),
    Reason.WOULD_TRIGGER_IMMEDIATELY: (10001, "expect {direction}, but trigger_price[{detail}] "
                                              "{cmp} current[{current}]??LastPrice"),
    Reason.STOP_WRONG_SIDE: (10001, "StopLoss:{detail} set for {side} position should "
                                    "{relation} than base_price:{current}??LastPrice"),
    Reason.NO_POSITION: (10001, "can not set tp/sl/ts for zero position"),
    Reason.ORDER_NOT_FOUND: (110001, "order not exists or too late to cancel"),
    Reason.NOT_MODIFIED: (34040, "not modified"),
    Reason.ORDER_NOT_MODIFIED: (10001, "The order remains unchanged as the parameters entered "
                                       "match the existing ones."),
    Reason.AMEND_NOT_SUPPORTED: (10001, "params error: this order cannot be amended"),
    Reason.LEVERAGE_NOT_MODIFIED: (110043, "Set leverage not modified"),
    Reason.LEVERAGE_INVALID: (10001, "leverage invalid"),
    Reason.INSUFFICIENT_MARGIN: (110007, "ab not enough for new order"),
    Reason.BAD_PARAM: (10001, "params error: {detail}"),
    Reason.DUPLICATE_CLIENT_ID: (110072, "OrderLinkedID is duplicate"),
    Reason.POST_ONLY_WOULD_TAKE: (10001, "post only order would take liquidity"),
    Reason.FOK_UNFILLABLE: (10001, "FOK order cannot be filled in full"),
    Reason.POSITION_IDX_MISMATCH: (10001, "position idx not match position mode"),
    Reason.CLOSE_POSITION_EXISTS: (10001, "a close-on-trigger order exists in this direction"),
    Reason.MODE_NOT_MODIFIED: (110025, "Position mode is not modified"),
    Reason.MODE_HAS_POSITION: (110024, "You have an existing position, so the position mode "
                                       "cannot be switched."),
    Reason.MODE_HAS_ORDERS: (110028, "You have existing open orders, so the position mode "
                                     "cannot be switched."),
}


def error_for(reason: Reason, detail: str, context: dict[str, Any]) -> tuple[int, str]:
    code, template = ERRORS[reason]
    trigger = context.get("trigger")
    rising = getattr(trigger, "name", "") == "RISE"
    side = context.get("side")
    values = {"detail": detail, "limit": fmt(context.get("limit")),  # type: ignore[arg-type]
              "current": fmt(context.get("current")),  # type: ignore[arg-type]
              "direction": "Rising" if rising else "Falling", "cmp": "<=" if rising else ">=",
              "side": "Buy" if side is Side.BUY else "Sell",
              "relation": "lower" if side is Side.BUY else "higher"}
    return code, template.format(**values)


def order_id(order_or_id: Order | int) -> str:
    number = order_or_id if isinstance(order_or_id, int) else order_or_id.id
    return str(uuid.UUID(int=number))


def side_name(side: Side | None) -> str:
    return "" if side is None else ("Buy" if side is Side.BUY else "Sell")


def _tif(o: Order) -> str:
    if o.kind is not OrderKind.PLAIN:
        return "GTC"
    return o.time_in_force.value if o.is_limit else "IOC"


def order(o: Order, stale: bool = False) -> dict[str, Any]:
    """One order; `stale` shows it as the seed bug saw it: no average price, nothing executed."""
    filled = Decimal(0) if stale else o.filled_qty
    liquidation = o.origin is Origin.LIQUIDATION
    return {
        "orderId": order_id(o), "orderLinkId": "" if liquidation else o.client_id,
        "blockTradeId": "", "symbol": o.symbol, "side": side_name(o.side),
        "orderType": "Limit" if o.is_limit else "Market",
        "price": fmt(o.price) if o.price is not None else "0",
        "qty": fmt(o.qty), "orderStatus": STATUS[o.status],
        "cancelType": CANCEL_TYPE.get(o.closure, "UNKNOWN") if o.closure else (
            "CancelByTpSlTsClear" if o.status is OrderStatus.DEACTIVATED
            and o.kind is OrderKind.POSITION_SL else "UNKNOWN"),
        "rejectReason": REJECT_REASON.get(o.closure, "EC_NoError") if o.closure else "EC_NoError",
        "avgPrice": "0" if stale or o.avg_price is None else fmt(o.avg_price),
        "cumExecQty": fmt(filled), "cumExecValue": "0" if stale else fmt(o.cum_quote),
        "cumExecFee": "0" if stale else fmt(o.fee),
        "cumFeeDetail": {} if stale or not o.fee else {"USDT": fmt(o.fee)},
        "leavesQty": fmt(o.qty - filled) if o.status.is_open else "0",
        "leavesValue": fmt((o.qty - filled) * (o.price or 0)) if o.status.is_open else "0",
        "timeInForce": _tif(o), "reduceOnly": o.reduce_only, "closeOnTrigger": o.close_position,
        "positionIdx": o.position_idx,
        "triggerPrice": fmt(o.trigger_price), "triggerBy": "LastPrice" if o.trigger else "",
        "triggerDirection": o.trigger.value if o.trigger else 0,
        "stopOrderType": STOP_TYPE[o.kind], "takeProfit": "", "stopLoss": "", "tpslMode": "",
        "tpTriggerBy": "", "slTriggerBy": "", "smpType": "None", "isLeverage": "",
        "createType": "CreateByTakeOver_PassThrough" if liquidation else CREATE_TYPE[o.kind],
        "createdTime": str(o.created_ms), "updatedTime": str(o.updated_ms),
        "category": "linear",
    }


def execution(f: Fill, o: Order | None) -> dict[str, Any]:
    liquidation = o is not None and o.origin is Origin.LIQUIDATION
    return {
        "execId": str(uuid.UUID(int=(1 << 64) + f.id)), "orderId": order_id(f.order_id),
        "orderLinkId": o.client_id if o and not liquidation else "", "symbol": f.symbol,
        "side": side_name(f.side),
        "orderType": "Limit" if o is not None and o.is_limit else "Market",
        "stopOrderType": STOP_TYPE[o.kind] if o else "",
        "execType": "BustTrade" if liquidation else "Trade", "execPrice": fmt(f.price),
        "execQty": fmt(f.qty), "execValue": fmt(f.quote), "execFee": fmt(f.fee),
        "feeRate": fmt(f.fee_rate), "feeCurrency": "USDT", "isMaker": f.maker,
        "execTime": str(f.time_ms), "closedSize": fmt(f.closed_qty),
        "orderPrice": fmt(o.price) if o is not None and o.price is not None else "0",
        "orderQty": fmt(o.qty) if o else "", "leavesQty": fmt(o.leaves_qty) if o else "0",
        "markPrice": fmt(f.price), "category": "linear", "seq": f.id,
    }


def position(p: Position, mark: Decimal, inst: Instrument,
             liq: tuple[Decimal, Decimal] | None = None) -> dict[str, Any]:
    """`liq` is (liquidation price, bankruptcy price) when liquidation is modelled."""
    value = p.size * p.entry_price
    return {
        "symbol": p.symbol, "side": side_name(p.side), "size": fmt(p.size),
        "avgPrice": fmt(p.entry_price), "positionIdx": p.idx, "tradeMode": 0, "riskId": 1,
        "leverage": str(p.leverage), "markPrice": fmt(mark), "positionValue": fmt(value),
        "unrealisedPnl": fmt(p.unrealized(mark)), "curRealisedPnl": fmt(p.realized_pnl),
        "cumRealisedPnl": fmt(p.realized_pnl), "liqPrice": fmt(liq[0]) if liq else "",
        "bustPrice": fmt(liq[1]) if liq else "",
        "positionIM": fmt(value / p.leverage), "positionMM": fmt(value * inst.maint_margin),
        "positionBalance": fmt(value / p.leverage), "stopLoss": fmt(p.stop_loss),
        "takeProfit": "", "trailingStop": fmt(p.trailing_distance or Decimal(0)),
        "activePrice": fmt(p.trailing_active_price), "tpslMode": "Full", "autoAddMargin": 0,
        "positionStatus": "Normal", "isReduceOnly": False, "adlRankIndicator": 0,
        "createdTime": str(p.created_ms), "updatedTime": str(p.updated_ms), "seq": p.updated_ms,
        "category": "linear",
    }


def wallet(account: Account, unrealized: Decimal) -> dict[str, Any]:
    im = sum((p.size * p.entry_price / p.leverage for p in account.positions.values()),
             Decimal(0))
    equity = account.wallet + unrealized
    coin = {"coin": account.asset, "walletBalance": fmt(account.wallet), "equity": fmt(equity),
            "usdValue": fmt(equity), "unrealisedPnl": fmt(unrealized), "cumRealisedPnl": "0",
            "locked": "0", "totalPositionIM": fmt(im), "totalOrderIM": "0",
            "totalPositionMM": "0", "availableToWithdraw": "", "borrowAmount": "0",
            "accruedInterest": "0", "bonus": "0", "marginCollateral": True,
            "collateralSwitch": True, "spotHedgingQty": "0"}
    return {"accountType": "UNIFIED", "totalEquity": fmt(equity),
            "totalWalletBalance": fmt(account.wallet), "totalMarginBalance": fmt(equity),
            "totalAvailableBalance": fmt(equity - im), "totalPerpUPL": fmt(unrealized),
            "totalInitialMargin": fmt(im), "totalMaintenanceMargin": "0",
            "accountIMRate": "0", "accountMMRate": "0", "accountLTV": "0", "coin": [coin]}


def instrument(i: Instrument, launch_ms: int) -> dict[str, Any]:
    return {
        "symbol": i.symbol, "contractType": "LinearPerpetual", "status": "Trading",
        "baseCoin": i.base, "quoteCoin": i.quote, "settleCoin": i.quote,
        "launchTime": str(launch_ms), "deliveryTime": "0", "deliveryFeeRate": "",
        "priceScale": str(i.price_decimals), "unifiedMarginTrade": True, "fundingInterval": 480,
        "copyTrading": "both", "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375",
        "isPreListing": False, "preListingInfo": None,
        "priceFilter": {"minPrice": fmt(i.min_price), "maxPrice": fmt(i.max_price),
                        "tickSize": fmt(i.tick_size)},
        "lotSizeFilter": {"minOrderQty": fmt(i.min_qty), "maxOrderQty": fmt(i.max_qty),
                          "qtyStep": fmt(i.qty_step), "maxMktOrderQty": fmt(i.max_qty),
                          "postOnlyMaxOrderQty": fmt(i.max_qty),
                          "minNotionalValue": fmt(i.min_notional)},
        "leverageFilter": {"minLeverage": "1", "maxLeverage": f"{i.max_leverage}.00",
                           "leverageStep": "0.01"},
    }


def ticker(i: Instrument, price: Decimal, bid: Piece, ask: Piece) -> dict[str, Any]:
    last = fmt(price)
    return {"symbol": i.symbol, "lastPrice": last, "markPrice": last, "indexPrice": last,
            "bid1Price": fmt(bid[0]), "ask1Price": fmt(ask[0]), "bid1Size": fmt(bid[1]),
            "ask1Size": fmt(ask[1]), "prevPrice24h": last, "price24hPcnt": "0",
            "highPrice24h": last, "lowPrice24h": last, "volume24h": "0", "turnover24h": "0",
            "fundingRate": "0.0001", "openInterest": "0", "nextFundingTime": "0"}


def order_book(symbol: str, bids: list[Piece], asks: list[Piece], now_ms: int,
               update_id: int) -> dict[str, Any]:
    return {"s": symbol, "b": [[fmt(p), fmt(q)] for p, q in bids],
            "a": [[fmt(p), fmt(q)] for p, q in asks], "ts": now_ms, "u": update_id,
            "seq": update_id, "cts": now_ms}


def kline(c: Candle) -> list[str]:
    return [str(c.open_ms), fmt(c.open), fmt(c.high), fmt(c.low), fmt(c.close), fmt(c.volume),
            fmt(c.turnover)]


TIME_IN_FORCE = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK,
                 "PostOnly": TimeInForce.POST_ONLY}
