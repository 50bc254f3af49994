"""The client conformance suite: checks a Scalekit API client through its driver (docs/conformance.md)."""

from __future__ import annotations

from .checks import CATALOGUE, IDS, Check, CheckFailure
from .results import CheckResult, SuiteReport
from .runner import UsageError, run_suite

__all__ = ["CATALOGUE", "IDS", "Check", "CheckFailure", "CheckResult", "SuiteReport", "UsageError", "run_suite"]
