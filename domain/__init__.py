"""The pure heart of warden: aggregates, events, the lifecycle table and policies.

Nothing in this package performs I/O, reads a clock or draws a random number. Every time and
identifier arrives as an argument, so replaying stored events reproduces the same state.
"""

from warden.domain.topics import register_legacy_topics

register_legacy_topics()
