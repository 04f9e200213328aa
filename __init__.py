"""warden: an event-sourced position guard for crypto-futures bots (Bybit v5, Binance USD-M).

The repository root is this package (`pyproject.toml` maps it to ``warden``): ``warden.domain``,
``warden.engine``, ``warden.adapters``, ``warden.projections``, ``warden.sim`` and ``warden.app``.
docs/architecture.md is the map. Nothing here runs at import time.
"""
