"""Errors of the mock: the package's misuse error and the HTTP errors its endpoints answer with.

An HTTP error is a tiny class naming an entry of ``fixtures/errors.json``; one renderer per wire
(``faces/rest.py``, ``faces/grpc.py``) turns any of them into its documented body, so no message text lives
in code.
"""

from __future__ import annotations


class MockError(Exception):
    """Root of the errors raised for misuse of the mock (bad config, bad control-plane input)."""


class ConfigError(MockError):
    """The configuration given to the mock cannot be used."""


class ControlError(MockError):
    """A control-plane operation was asked with bad arguments or for something that does not exist."""

    status = 400

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class StateUnavailable(ControlError):
    """The shared state (``--state redis://…``) cannot be reached: the control plane answers 503, the data plane its
    family's ``state_unavailable`` error, and both answer again once the store is back."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 503)


class HttpError(Exception):
    """Base of the errors an endpoint answers with; ``key`` names an entry of the fixtures.

    ``status`` overrides the fixture's status where one error body serves several statuses
    (an oversized body is an ``invalid_request`` with 413).
    """

    family = ""
    key = ""
    outcome: str | None = None  # the journal's outcome for it, when not its key

    def __init__(self, detail: str | None = None, headers: dict[str, str] | None = None,
                 status: int | None = None) -> None:
        super().__init__(detail or self.key)
        self.detail = detail
        self.headers = headers or {}
        self.status = status


class ApiError(HttpError):
    """An error of the protected API, rendered as a grpc-gateway ``google.rpc.Status`` body.

    ``message`` replaces the fixture's message in the body, where the answer names what was wrong (the field
    of a 400, the resource of a 404); it is also the journal's detail.
    """

    family = "api"

    def __init__(self, key: str, detail: str | None = None, headers: dict[str, str] | None = None,
                 status: int | None = None, message: str | None = None) -> None:
        super().__init__(detail or message, headers, status)
        self.key = key
        self.message = message


class OAuthError(HttpError):
    """An error of the token endpoint, rendered as an RFC 6749 section 5.2 body."""

    family = "oauth"

    def __init__(self, key: str, detail: str | None = None, headers: dict[str, str] | None = None,
                 status: int | None = None) -> None:
        super().__init__(detail, headers, status)
        self.key = key
