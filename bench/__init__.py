"""Benchmarks: measurements of warden's own code against the raw ceiling of the same server.

Run one as a module from the checkout root, e.g. ``.venv/bin/python -m bench.store --quick``.
Nothing here is imported by the service; see docs/performance.md for what the figures mean.
"""
