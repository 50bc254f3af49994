"""JSON text as the mock writes it on its hot paths: compact, UTF-8, made by orjson.

Every API answer and, with a shared state, every journal entry is encoded once per request, on the event loop or
under the GIL it needs. The standard library took 4-14 us for what orjson does in under 1 (``scalekit-mock bench``
shows the effect). What orjson refuses (an integer past 64 bits, a key that is not a string) is written by the
standard encoder instead, to the same compact form.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson


def compact(payload: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """``payload`` as compact JSON text in UTF-8; ``default`` turns what JSON cannot hold into what it can (without
    one, such a value is an error: ``TypeError``)."""
    try:
        return orjson.dumps(payload, default=default)
    except orjson.JSONEncodeError:  # the rare path: the standard encoder's speed does not matter here
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=default).encode()
