"""Every check gives the same verdict on the same client run after run (issue #13).

Each driver's checks run ``SCALEKIT_DETERMINISM_RUNS`` times (3 by default, as in CI; 10 for a nightly run), each
run a fresh ``run_suite`` in a process of its own, and every run's outcome of every check (not its message, which
quotes counts and fingerprints) must be the first run's. Which checks:

- **A faulty driver** runs the pair its ``EXPECTED`` check belongs to (``PAIRS``): two checks judging one
  behaviour at two thresholds or on two endpoints (single flight on a cold cache and at refresh, a refresh at
  ``expires_in`` and 5 s before, a retry after a 503 and after a 429's ``Retry-After``, a timeout on the token
  endpoint and on the API...). It must fail its own check in every run. The twin is, in all pairs but one, another
  faulty driver's check, so each check is judged on a client whose bug it is about and on one whose bug lies
  beside it. The runs keep the default hang bound (10 s), not test_drivers.py's 5 s (above the reference client's
  own 3 s timeout, so that there too only the missing timeout fails them).
- **A shipped driver** runs, below 10 runs, the checks whose verdict is a race against thread scheduling or the wall
  clock (``RACES``): the concurrency checks (eight threads against a token response held back 0.5 s) and the retry
  and backoff checks (gaps on the journal's clock against 0.1 s and 0.9 s). A hang check races the client's own
  timeout against the 10 s bound only where that timeout is below it (``TIMEOUT_BELOW_BOUND``); the other clients'
  are far above it or absent (the official SDKs' 20 s a call, the Python SDK's 30 s on a token request,
  openid-client's 30 s; authlib, requests-oauthlib and Go's default client set none), so they lose to it by 10 s or
  more every time: CI leaves them to the nightly run. The redirect checks race nothing (what reaches the second
  origin is journaled before it answers), nor do the others in virtual time, where both clocks jump. From 10 runs
  on, every shipped driver runs the whole catalogue, STATE-MACHINE and golang.org/x/oauth2's eight real-time checks
  (15 s tokens, about 112 s a run) included. A driver whose client is not installed here is skipped with the reason,
  unless ``SCALEKIT_REQUIRE_DRIVERS=1`` (CI), which fails it.

STATE-MACHINE below 10 runs is ``tests/test_statemachine_determinism.py``'s (the reference client, a faulty driver
and two bugs at once; more from 4 runs on). Runs go two at a time, each in a process of its own, as there
(Hypothesis in two threads at once can trip CPython 3.11's ast.parse); a run that overruns ``RUN_TIMEOUT`` is killed
and fails its driver's test. Only the selected drivers run (``-k httpx`` runs httpx-auth's alone). CI's 3 runs take
about five minutes on two cores; the nightly run over an hour, most of it the official SDKs' STATE-MACHINE.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from contract_tests.client.checks import IDS
from contract_tests.drivers.catalog import SHIPPED, ShippedDriver
from contract_tests.drivers.faulty import EXPECTED

ROOT = Path(__file__).resolve().parents[1]
CI_RUNS, NIGHTLY_RUNS = 3, 10
RUNS = int(os.environ.get("SCALEKIT_DETERMINISM_RUNS", str(CI_RUNS)))
WHOLE_CATALOGUE = RUNS >= NIGHTLY_RUNS
REQUIRED = os.environ.get("SCALEKIT_REQUIRE_DRIVERS") == "1"  # as in CI: a client not installed fails
RUN_TIMEOUT = 900 if WHOLE_CATALOGUE else 300  # seconds for one run; an SDK's STATE-MACHINE shrinks for minutes
JOBS = 2  # runs side by side, as the matrix runs its drivers

# Two checks judging one behaviour at two thresholds or on two endpoints; a faulty driver runs its check's pair.
PAIRS = (
    ("CACHE-SEQUENTIAL", "CACHE-SHORT-LIFETIME-REUSE"),  # one token for many calls: 24 h tokens, 300 s ones
    ("CACHE-CONCURRENT-COLD", "CACHE-STAMPEDE-AT-EXPIRY"),  # single flight: on a cold cache, at refresh
    ("CACHE-NO-TOKENLESS-CALL", "FMT-BEARER-HEADER"),  # what a call's Authorization carries: nothing, the token
    ("REFRESH-AFTER-LIFETIME", "REFRESH-SHORT-LIFETIME"),  # a new token once expired: 24 h tokens, 300 s ones
    ("REFRESH-BEFORE-EXPIRY", "REFRESH-MARGIN"),  # refreshing ahead: at expires_in, 5 s before
    ("REFRESH-REVOKED", "ERR-PERSISTENT-401"),  # a 401: retried once, retried boundedly
    ("FMT-TOKEN-REQUEST", "FMT-SECRET-NOT-IN-URL"),  # the token request: its form, its URL
    ("ERR-INVALID-CREDENTIALS", "ERR-FORBIDDEN"),  # a final refusal is not retried: 401, 403
    ("ERR-TRANSIENT-503", "ERR-RATE-LIMITED-429"),  # the token endpoint's retry: backoff, Retry-After
    ("ERR-API-RATE-LIMITED", "ERR-API-TRANSIENT-503"),  # the API's retry: 429, 503
    ("ERR-MALFORMED-TOKEN-RESPONSE", "ERR-ABSURD-EXPIRES-IN"),  # a broken token response: body, expires_in
    ("ERR-TOKEN-ENDPOINT-HANG", "ERR-API-HANG"),  # a timeout: on the token endpoint, on the API
    ("SEC-SECRET-NOT-REDIRECTED", "SEC-TOKEN-NOT-REDIRECTED"),  # a cross-origin redirect: the secret, the token
    ("SEC-SECRET-NOT-LOGGED", "SEC-TOKEN-NOT-LOGGED"),  # the driver's output: the secret, the tokens
)
# The checks a shipped driver runs below NIGHTLY_RUNS: their verdicts race thread scheduling or the wall clock.
RACES = ("CACHE-CONCURRENT-COLD", "CACHE-STAMPEDE-AT-EXPIRY", "ERR-TRANSIENT-503", "ERR-RATE-LIMITED-429",
         "ERR-API-RATE-LIMITED", "ERR-API-TRANSIENT-503")
HANGS = ("ERR-TOKEN-ENDPOINT-HANG", "ERR-API-HANG")
# Shipped driver -> the hang checks its client's timeout races the 10 s bound in: the reference client's 3 s, and
# httpx's default 5 s on httpx-auth's API calls (its token request has none).
TIMEOUT_BELOW_BOUND = {"reference": HANGS, "httpx-auth": ("ERR-API-HANG",)}


@dataclass(frozen=True)
class Subject:
    """A driver as this file runs it: the command, the checks, how the mock serves it, and why it cannot run."""

    label: str
    command: str
    checks: tuple[str, ...]
    grpc: bool = False
    tls: bool = False
    missing: str | None = None
    must_fail: str | None = None  # a faulty driver's EXPECTED check


def pair_of(check_id: str) -> tuple[str, str]:
    return next(pair for pair in PAIRS if check_id in pair)


def faulty(name: str) -> Subject:
    command = shlex.join([sys.executable, "-m", f"contract_tests.drivers.faulty.{name}"])
    return Subject(f"faulty.{name}", command, pair_of(EXPECTED[name]), must_fail=EXPECTED[name])


def shipped(driver: ShippedDriver) -> Subject:
    checks = IDS if WHOLE_CATALOGUE else (*RACES, *TIMEOUT_BELOW_BOUND.get(driver.key, ()))
    return Subject(driver.key, driver.command, tuple(c for c in IDS if c in checks), grpc=driver.grpc,
                   tls=driver.tls, missing=driver.missing())


FAULTY = {s.label: s for s in map(faulty, sorted(EXPECTED))}
SHIPPED_SUBJECTS = {s.label: s for s in map(shipped, SHIPPED)}


# -- one run -------------------------------------------------------------------------------------------
RUN_ONCE = """\
import json, sys
from contract_tests.client.runner import run_suite
spec = json.loads(sys.argv[1])
report = run_suite(spec["command"], only=spec["checks"], grpc=spec["grpc"], tls=spec["tls"])
print(json.dumps({"duration": report.duration, "checks": {
    r.id: [r.outcome + (" (not applicable)" if r.not_applicable else ""), r.message] for r in report.results}}))
"""


@dataclass(frozen=True)
class Run:
    """What one run said: each check's verdict and message, or why the run gave none."""

    checks: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # check id -> (verdict, message)
    duration: float = 0.0
    broken: str = ""


def run_once(subject: Subject) -> Run:
    """The subject's checks through ``run_suite``, in a process of its own."""
    spec = json.dumps({"command": subject.command, "checks": subject.checks, "grpc": subject.grpc,
                       "tls": subject.tls})
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-c", RUN_ONCE, spec], cwd=ROOT, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return Run(duration=time.monotonic() - started, broken=f"the run overran {RUN_TIMEOUT} s and was killed")
    if done.returncode != 0 or not done.stdout.strip():
        return Run(duration=time.monotonic() - started, broken=f"the run broke:\n{done.stderr[-3000:]}")
    found = json.loads(done.stdout.splitlines()[-1])
    return Run({k: (v[0], v[1]) for k, v in found["checks"].items()}, found["duration"])


def changes(runs: Sequence[Run]) -> list[str]:
    """Every check whose verdict in a later run differs from the first run's, with both runs' messages."""
    first = runs[0]
    found = [f"run {n} gave no verdict: {run.broken}" for n, run in enumerate(runs, 1) if run.broken]
    if found:
        return found
    for n, run in enumerate(runs[1:], 2):
        for check_id in sorted(first.checks.keys() | run.checks.keys()):
            before, after = first.checks.get(check_id, ("absent", "")), run.checks.get(check_id, ("absent", ""))
            if before[0] != after[0]:
                found.append(f"{check_id} changed verdict in run {n}: {before[0]} in run 1, {after[0]} in run {n}\n"
                             f"  run 1: {before[1] or '(no message)'}\n  run {n}: {after[1] or '(no message)'}")
    return found


# -- every selected driver, RUNS times, two runs at a time ---------------------------------------------------------
def selected(request: pytest.FixtureRequest) -> set[str]:
    """The labels of the drivers whose tests in this file were selected (``-k`` narrows the runs too)."""
    here, labels = Path(__file__).resolve(), set()
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "label" in params and item.path.resolve() == here:
            labels.add(str(params["label"]))
    return labels


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest) -> Iterator[dict[str, list[Run]]]:
    subjects = [s for label, s in {**SHIPPED_SUBJECTS, **FAULTY}.items()
                if label in selected(request) and s.missing is None]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=JOBS) as pool:  # run n of every driver, then run n + 1: a balanced tail
        futures = [(s.label, pool.submit(run_once, s)) for _ in range(RUNS) for s in subjects]
        results: dict[str, list[Run]] = {s.label: [] for s in subjects}
        for label, future in futures:
            results[label].append(future.result())
    print(f"\n{RUNS} runs of each of {len(subjects)} drivers: {time.monotonic() - started:.1f} s")
    for label, done in results.items():
        print(f"  {label:<36} {', '.join(f'{r.duration:.1f}' for r in done)} s")
    yield results


def assert_same_verdicts(label: str, runs: dict[str, list[Run]]) -> list[Run]:
    done = runs[label]
    changed = changes(done)
    assert len(done) == RUNS
    assert changed == [], f"{label}: the verdicts changed from run to run:\n\n" + "\n\n".join(changed)
    return done


@pytest.mark.slow
@pytest.mark.parametrize("label", sorted(FAULTY))
def test_faulty_driver_gets_the_same_verdict_every_run(label: str, runs: dict[str, list[Run]]) -> None:
    done = assert_same_verdicts(label, runs)

    check_id = FAULTY[label].must_fail
    assert check_id is not None
    assert done[0].checks[check_id][0] == "failed", f"{label} passed {check_id}: {done[0].checks[check_id]}"


@pytest.mark.slow
@pytest.mark.parametrize("label", [d.key for d in SHIPPED])
def test_shipped_driver_gets_the_same_verdict_every_run(label: str, runs: dict[str, list[Run]]) -> None:
    missing = SHIPPED_SUBJECTS[label].missing
    if missing is not None:
        assert not REQUIRED, f"SCALEKIT_REQUIRE_DRIVERS=1 but {label} cannot run: {missing}"
        pytest.skip(missing)
    done = assert_same_verdicts(label, runs)

    assert list(done[0].checks) == list(SHIPPED_SUBJECTS[label].checks)


# -- what is run, and how a change is shown (no driver) ------------------------------------------------------
def test_every_faulty_driver_runs_a_pair_with_its_check() -> None:
    paired = [c for pair in PAIRS for c in pair]
    assert len(paired) == len(set(paired)) and set(paired) <= set(IDS)
    assert all(EXPECTED[s.label.removeprefix("faulty.")] in s.checks and len(s.checks) == 2 for s in FAULTY.values())


def test_every_shipped_driver_runs_the_racing_checks() -> None:
    assert set(TIMEOUT_BELOW_BOUND) <= {d.key for d in SHIPPED}
    assert {c for checks in TIMEOUT_BELOW_BOUND.values() for c in checks} <= set(HANGS) and set(RACES) <= set(IDS)
    expected = set(IDS) if WHOLE_CATALOGUE else set(RACES)
    assert all(expected <= set(s.checks) for s in SHIPPED_SUBJECTS.values())


def test_a_changed_verdict_names_the_check_the_run_and_both_messages() -> None:
    same = Run({"ERR-TRANSIENT-503": ("passed", ""), "CACHE-CONCURRENT-COLD": ("failed", "made 8 token requests")})
    changed = Run({"ERR-TRANSIENT-503": ("passed", ""), "CACHE-CONCURRENT-COLD": ("passed", "")})

    assert changes([same, same]) == []
    assert changes([same, same, changed]) == [
        "CACHE-CONCURRENT-COLD changed verdict in run 3: failed in run 1, passed in run 3\n"
        "  run 1: made 8 token requests\n  run 3: (no message)"]
    assert changes([same, Run(broken="the run overran 300 s and was killed")]) == [
        "run 2 gave no verdict: the run overran 300 s and was killed"]
