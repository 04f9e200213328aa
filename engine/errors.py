"""Exchange failures as the engine sees them: `Rejected`, `Retryable`, `UnknownOutcome`.

The engine needs one decision per failure, not an exchange library's forty exception classes:

* `Rejected` -- the venue read the request and refused it. Carries the venue's own code and message
  (Bybit ``retCode``/``retMsg``, Binance ``code``/``msg``) so the event log records why.
* `Retryable` -- nothing happened on the venue: rate limit, 5xx, a connection that failed before
  the request left, a clock-skew nonce rejection. Sending again is safe.
* `UnknownOutcome` -- the request may have reached the venue (timeout or dropped connection after
  sending, Binance -1007). For a write the engine must query before deciding; retrying blindly
  could open a second position.

These types belong to the engine's side of the exchange port (`warden.engine.ports`); the ccxt
adapter maps its library's exceptions onto them (`warden.adapters.exchange.errors.classify`).
"""

from __future__ import annotations

from typing import Any


class StoreUnavailable(Exception):
    """The event store cannot be written now: nothing new is started until it can."""


class UnsupportedAccount(Exception):
    """An account warden cannot guard as it is set up (hedge mode, until warden supports it). The
    message is one line naming the account and the setting to change."""


class ExchangeFailure(Exception):
    """Base of every classified failure; ``venue_code``/``venue_message`` when the venue sent them,
    and ``venue_answer``, the venue's whole answer (its JSON body) when there was one."""

    def __init__(self, message: str, *, venue_code: str | None = None,
                 venue_message: str | None = None, operation: str = "",
                 venue_answer: dict[str, Any] | None = None) -> None:
        self.venue_code = venue_code
        self.venue_message = venue_message
        self.operation = operation
        self.venue_answer = venue_answer
        super().__init__(message)

    @property
    def evidence(self) -> dict[str, Any]:
        """What to record: the failure as text and, when the venue answered, its answer."""
        found: dict[str, Any] = {"error": str(self)}
        if self.venue_answer is not None:
            found["venue"] = self.venue_answer
        return found


class Rejected(ExchangeFailure):
    """The venue refused the request. Do not resend it unchanged."""


class AlreadyInPlace(Rejected):
    """Refused because what was asked is already so: Bybit answers a trading-stop that sets the
    stop the position already has with 34040 "not modified". The request's effect is in force."""


class Retryable(ExchangeFailure):
    """Nothing was done on the venue; the same request may be sent again."""


class UnknownOutcome(ExchangeFailure):
    """The request may or may not have taken effect: query the venue before deciding."""


def refusal(e: ExchangeFailure) -> dict[str, Any]:
    """What a ``reject_*`` command records of a venue's refusal: its message (or the error's
    text), its code and, as evidence, the error and the venue's whole answer."""
    return {"reason": e.venue_message or str(e), "code": e.venue_code, "raw": e.evidence}
