"""The exchange adapter: `ExchangePort` and its ccxt implementation for Bybit v5 and Binance USD-M.

Commands in, normalized `domain.reports` out; failures classified as `Rejected`, `Retryable` or
`UnknownOutcome` (`adapters.exchange.errors`). Importing this package connects to nothing.
"""
