"""What a run of the client suite found (the types are shared with the provider suite: ``contract_tests.results``)."""

from __future__ import annotations

from ..results import OUTCOMES, CheckResult, SuiteReport

__all__ = ["OUTCOMES", "CheckResult", "SuiteReport"]
