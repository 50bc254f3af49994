"""Recordings: what a target answered to each case, one JSON file per case (``<case>.json``).

A file holds ``{"format": 1, "case", "summary", "request": {...}, "response": {"status", "headers",
"body" or "text", "jwt"}}``, normalized (see ``observe.py``: no secret, no token, no environment URL
or client id in clear), with sorted keys and two-space indents, so that two recordings diff line by
line and a recording can be committed next to the fixtures it confirms or corrects.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .cases import CASES
from .observe import FORMAT, Redactor, observation
from .probe import Exchange


class RecordingError(ValueError):
    """A recording directory cannot be written or read."""


def to_text(observed: dict[str, Any]) -> str:
    return json.dumps(observed, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_recording(directory: Path, exchanges: Iterable[Exchange], redactor: Redactor) -> list[Path]:
    """Write one file per case exchanged; files of other known cases (from an earlier run) are removed,
    so the directory never mixes two runs. Other files are left alone."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for exchange in exchanges:
            path = directory / f"{exchange.case}.json"
            path.write_text(to_text(observation(exchange, redactor)), encoding="utf-8")
            written.append(path)
        for name in CASES:
            stale = directory / f"{name}.json"
            if stale not in written and stale.is_file():
                stale.unlink()
    except OSError as exc:
        raise RecordingError(f"cannot write the recording in {directory}: {exc}") from exc
    return written


def read_recording(directory: Path) -> dict[str, dict[str, Any]]:
    """Every case file of a recording, by case name, in catalogue order; unknown files are ignored."""
    if not directory.is_dir():
        raise RecordingError(f"no recording directory {directory}")
    cases: dict[str, dict[str, Any]] = {}
    for name in CASES:
        path = directory / f"{name}.json"
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RecordingError(f"cannot read {path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("case") != name \
                or not isinstance(data.get("response"), dict):
            raise RecordingError(f"{path} is not a format-{FORMAT} recording of case {name!r}")
        cases[name] = data
    if not cases:
        raise RecordingError(f"{directory} holds no recorded case (files named like token.json, api-ok.json)")
    return cases
