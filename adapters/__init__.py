"""Everything that talks to the outside: event stores, exchanges, streams, intake, the simulator.

Nothing here connects at import time; `app.py` builds and wires these pieces.
"""
