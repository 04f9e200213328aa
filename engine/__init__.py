"""The engine: the processes that guard positions (open saga, closer, trailing, aged exit,
reconciliation), written against ports (`ports.py`, `errors.py`) that the adapters implement."""
