"""Topics written before the package was named ``warden`` still resolve.

Event and aggregate topics (``module:Class``) are part of the stored format. Logs written while the
package roots were top-level modules (up to commit 85d6b9c) name them ``domain.events:EntryFilled``,
``domain.position:Position``...; registering the old module root as an alias of `warden.domain`
makes eventsourcing's `resolve_topic` map every such topic onto today's class. A class that moves
inside `warden.domain` registers its own old topic here too.
"""

from __future__ import annotations

import importlib

from eventsourcing.utils import register_topic

LEGACY_MODULE_ROOTS = {"domain": "warden.domain"}


def register_legacy_topics() -> None:
    for old, new in LEGACY_MODULE_ROOTS.items():
        register_topic(old, importlib.import_module(new))
