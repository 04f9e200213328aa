"""warden reads each account's position mode at start and refuses an account in hedge mode (every
order it sends is one-way), naming the account and the setting to change; one-way starts."""

from __future__ import annotations

import re

import pytest

from tests.integration.engine.conftest import signal
from warden.domain.lifecycle import Status
from warden.engine.errors import UnsupportedAccount

SETTING = {"bybit": r"switch the symbols to one-way mode \(Position Mode \"One-Way\", positionIdx 0",
           "binanceusdm": r"set dualSidePosition to false \(Position Mode \"One-way\""}
SHOWN = {"bybit": r"BTCUSDT positionIdx 1 and 2", "binanceusdm": r"dualSidePosition true"}
ACCOUNT = {"bybit": "bybit", "binanceusdm": "binance"}


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
async def test_an_account_in_hedge_mode_is_refused_with_the_setting_to_change(sim, make_engine, store,
                                                                               venue):
    sim.control.set_position_mode(ACCOUNT[venue], True)

    with pytest.raises(UnsupportedAccount) as refused:
        await make_engine(venues=(venue,))

    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"{venue}/{ACCOUNT[venue]} is in hedge mode (")
    assert re.search(SHOWN[venue], message) and re.search(SETTING[venue], message), message
    assert not [r for r in sim.control.requests() if r["method"] != "GET"]  # nothing was sent


async def test_a_bybit_symbol_in_hedge_mode_shows_through_its_open_position(sim, make_engine):
    """Bybit keeps the mode per symbol: ETHUSDT alone in hedge mode, with a position open on it."""
    sim.control.set_position_mode("bybit", True, symbol="ETHUSDT")
    sim.control.open_position("bybit", "ETHUSDT", "buy", "0.10")

    with pytest.raises(UnsupportedAccount, match=r"^bybit/bybit is in hedge mode \(ETHUSDT positionIdx"):
        await make_engine(venues=("bybit",))


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
async def test_an_account_in_one_way_mode_starts_and_trades(sim, make_engine, store, venue):
    engine = await make_engine(venues=(venue,))
    outcome = await engine.submit(signal("one-way", exchange=venue))
    await engine.idle()
    assert store.repository.get(outcome.position_id).status is Status.PROTECTED
