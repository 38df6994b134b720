"""Identifiers for requests, calls and trace spans.

Not secrets: they name things, they grant nothing. So they come from a fast PRNG seeded once from the OS,
not from `os.urandom` per id (four urandom syscalls per request showed up in the gateway's profile).
"""

from __future__ import annotations

import os
import random

_rng = random.Random(os.urandom(32))


def new_id() -> str:
    """128 random bits as 32 hex characters (the shape of a W3C trace id and of uuid4().hex)."""
    return f"{_rng.getrandbits(128):032x}"


def new_span_id() -> str:
    return f"{_rng.getrandbits(64):016x}"


def reseed_after_fork() -> None:
    _rng.seed(os.urandom(32))


os.register_at_fork(after_in_child=reseed_after_fork)
