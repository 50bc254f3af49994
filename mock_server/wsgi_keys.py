"""Names of the per-request values the outer WSGI layer hands to the views through ``environ``."""

ENTRY = "scalekit_mock.entry"
FAULT = "scalekit_mock.fault"
