"""The simulated top of book: bid/ask around the mark price, with configurable spread and depth.

The book is synthetic: level 0 of each side sits half the spread away from the mark (rounded
outward to the tick), further levels follow `step_ticks` ticks apart, each holding `depth`
contracts (None: unlimited, so everything fills at the touch). A taking order walks the levels
from the touch outward; what is left after the last level fills there (the book refills at its
deepest price). With the defaults (spread 0, unlimited depth) bid = ask = mark, which is exactly
the market-order behaviour the simulator had before the book existed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_UP, Decimal

from .book import Side
from .market import Instrument


@dataclass(frozen=True)
class BookShape:
    spread_bps: Decimal = Decimal(0)
    depth: Decimal | None = None      # contracts per level; None = unlimited
    levels: int = 20                  # levels per side (order-book answers show at most these)
    step_ticks: int = 1               # ticks between consecutive levels


Piece = tuple[Decimal, Decimal]       # (price, qty) of one execution


class TopOfBook:
    """Book shape per symbol (a default plus overrides) and the prices a taker gets."""

    def __init__(self, default: BookShape | None = None) -> None:
        self.default = default or BookShape()
        self.overrides: dict[str, BookShape] = {}

    def shape(self, symbol: str) -> BookShape:
        return self.overrides.get(symbol, self.default)

    def configure(self, symbol: str | None = None, **changes: object) -> BookShape:
        """Change the shape of one symbol's book, or the default of all (symbol None)."""
        given = {k: v for k, v in changes.items() if v is not None}
        if "spread_bps" in given:
            given["spread_bps"] = Decimal(str(given["spread_bps"]))
        if "depth" in given:
            depth = Decimal(str(given["depth"]))
            given["depth"] = depth if depth > 0 else None
        if symbol is None:
            self.default = replace(self.default, **given)   # type: ignore[arg-type]
            return self.default
        self.overrides[symbol] = replace(self.shape(symbol), **given)  # type: ignore[arg-type]
        return self.overrides[symbol]

    def quotes(self, inst: Instrument, mark: Decimal) -> tuple[Decimal, Decimal]:
        """Best bid and best ask; with a spread they differ by at least one tick."""
        half = mark * self.shape(inst.symbol).spread_bps / Decimal(20000)
        if not half:
            return mark, mark
        bid = inst.round_price(mark - half, up=False)
        ask = inst.round_price(mark + half, up=True)
        if ask <= bid:
            ask = bid + inst.tick_size
        return max(bid, inst.min_price), ask

    def levels(self, inst: Instrument, mark: Decimal, side: Side,
               count: int | None = None) -> list[Piece]:
        """The resting side a taker of `side` hits: asks for a buyer, bids for a seller."""
        shape = self.shape(inst.symbol)
        bid, ask = self.quotes(inst, mark)
        step = inst.tick_size * shape.step_ticks * side.sign
        top = ask if side is Side.BUY else bid
        size = shape.depth if shape.depth is not None else inst.max_qty
        rows = []
        for i in range(min(count or shape.levels, shape.levels)):
            price = top + step * i
            if price < inst.min_price:
                break
            rows.append((price, size))
        return rows

    def walk(self, inst: Instrument, mark: Decimal, side: Side, qty: Decimal,
             limit: Decimal | None = None) -> list[Piece]:
        """How a taker of `qty` fills: (price, qty) per level, never beyond `limit`.

        The sum can fall short of `qty` only when `limit` stops the walk.
        """
        shape = self.shape(inst.symbol)
        pieces: list[Piece] = []
        left = qty
        levels = self.levels(inst, mark, side, shape.levels)
        for number, (price, size) in enumerate(levels):
            if limit is not None and (price > limit if side is Side.BUY else price < limit):
                break
            last = number == len(levels) - 1 or shape.depth is None
            take = left if last else min(left, size)
            pieces.append((price, take))
            left -= take
            if not left:
                break
        return pieces


def chunked(pieces: list[Piece], chunk: Decimal) -> list[Piece]:
    """Cut executions at every multiple of `chunk`, so one order fills in several pieces."""
    out: list[Piece] = []
    room = chunk
    for price, qty in pieces:
        while qty > 0:
            take = min(qty, room)
            out.append((price, take))
            qty -= take
            room -= take
            if not room:
                room = chunk
    return out


def chunk_size(inst: Instrument, qty: Decimal, parts: int) -> Decimal:
    """`qty / parts` rounded up to the quantity step (at least one step)."""
    if parts <= 1:
        return qty
    steps = (qty / parts / inst.qty_step).to_integral_value(ROUND_UP)
    return max(inst.qty_step, steps * inst.qty_step)
