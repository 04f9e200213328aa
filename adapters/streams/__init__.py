"""Websocket streams: private position/order/execution feeds (ccxt.pro and native Bybit), the
compare mode between them, and public mark-price ticks. Nothing connects at import time."""
