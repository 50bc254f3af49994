"""Deliberately faulty drivers: the careful reference client with exactly one bug each.

Each module is a driver (``python -m contract_tests.drivers.faulty.<name>``) whose client breaks one
rule and otherwise behaves like ``reference_client.ScalekitClient``. ``EXPECTED`` names the check
meant to catch each one: running that check against the driver must fail, which shows the check
finds the bug; the other checks passing as far as the bug allows shows the check is specific.
"""

from __future__ import annotations

EXPECTED: dict[str, str] = {
    "no_cache": "CACHE-SEQUENTIAL",
    "margin_too_long": "CACHE-SHORT-LIFETIME-REUSE",
    "no_single_flight": "CACHE-CONCURRENT-COLD",
    "no_single_flight_refresh": "CACHE-STAMPEDE-AT-EXPIRY",
    "tokenless_first_call": "CACHE-NO-TOKENLESS-CALL",
    "cache_forever": "REFRESH-AFTER-LIFETIME",
    "no_margin": "REFRESH-BEFORE-EXPIRY",
    "zero_margin": "REFRESH-MARGIN",
    "assume_24h": "REFRESH-SHORT-LIFETIME",
    "no_401_retry": "REFRESH-REVOKED",
    "json_token_request": "FMT-TOKEN-REQUEST",
    "secret_in_url": "FMT-SECRET-NOT-IN-URL",
    "retry_invalid_credentials": "ERR-INVALID-CREDENTIALS",
    "refresh_on_403": "ERR-FORBIDDEN",
    "unbounded_401_retry": "ERR-PERSISTENT-401",
    "no_retry_503": "ERR-TRANSIENT-503",
    "ignore_retry_after": "ERR-RATE-LIMITED-429",
    "retry_429_storm": "ERR-API-RATE-LIMITED",
    "api_retry_storm_503": "ERR-API-TRANSIENT-503",
    "bogus_bearer": "ERR-MALFORMED-TOKEN-RESPONSE",
    "trusts_expires_in": "ERR-ABSURD-EXPIRES-IN",
    "no_timeout": "ERR-TOKEN-ENDPOINT-HANG",
    "no_api_timeout": "ERR-API-HANG",
    "follows_redirect_with_secret": "SEC-SECRET-NOT-REDIRECTED",
    "bearer_on_redirect": "SEC-TOKEN-NOT-REDIRECTED",
    "secret_in_log": "SEC-SECRET-NOT-LOGGED",
    "token_in_log": "SEC-TOKEN-NOT-LOGGED",
}
