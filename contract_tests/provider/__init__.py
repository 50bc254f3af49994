"""The provider suite: the documented contract of Scalekit's token endpoint, keys and errors as executable
checks, run against the mock or a live environment, with recordings and a drift report
(docs/provider-contract.md)."""

from __future__ import annotations

from .checks import CATALOGUE, IDS
from .context import ProviderCheck
from .drift import DriftReport, drift
from .runner import UsageError, run_provider_suite
from .target import Credentials, Target, TargetError

__all__ = ["CATALOGUE", "IDS", "Credentials", "DriftReport", "ProviderCheck", "Target", "TargetError", "UsageError",
           "drift", "run_provider_suite"]
