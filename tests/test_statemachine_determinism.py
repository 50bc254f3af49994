"""STATE-MACHINE gives the same verdict on the same client run after run, and the verdict it should.

Each driver's check runs ``SCALEKIT_DETERMINISM_RUNS`` times: 3 by default, as in CI. More than that makes a
nightly-sized run (``SCALEKIT_DETERMINISM_RUNS=10``), which judges more drivers: a client without single flight
that passes, one failing only after a long shrink (``cache_forever``), and the real client whose verdict used to
change (httpx-auth; skipped when the ``drivers`` extra is not installed). CI's 3 runs of its 3 drivers take about
a minute. Two runs go side by side, each in a process of its own (Hypothesis in two threads at once can trip
CPython 3.11's ast.parse). The other checks are tests/test_verdict_determinism.py's, whose 10-run variant runs
STATE-MACHINE too, in every shipped driver's whole catalogue.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from contract_tests.client.evidence import JournalView
from contract_tests.client.statemachine import Holding

ROOT = Path(__file__).resolve().parents[1]
CHECK = "STATE-MACHINE"
RUN_TIMEOUT = 600  # seconds for one run of the check; a failing one that shrinks long takes about a minute
CI_RUNS = 3
RUNS = int(os.environ.get("SCALEKIT_DETERMINISM_RUNS", str(CI_RUNS)))

# The reference client with two faulty drivers' bugs at once: no single flight, and a 401 taken as final with
# the rejected token kept. Its verdict used to change from run to run: after concurrent calls the check revoked
# the newest token in the journal, which was not always the one the client had kept. (So does httpx-auth's.)
NO_401_RETRY_NOR_SINGLE_FLIGHT = """\
from contract_tests.drivers.faulty._driver import serve
from contract_tests.drivers.faulty.no_401_retry import No401RetryClient
from contract_tests.drivers.faulty.no_single_flight import NoSingleFlightClient

class Client(NoSingleFlightClient, No401RetryClient):
    pass

serve(Client, "no single flight and no retry on 401")
"""

# Driver -> the verdict STATE-MACHINE must give it, every run.
CI_DRIVERS = {
    "reference": "passed",
    "no_401_retry_nor_single_flight": "failed",
    "faulty.no_cache": "failed",  # more token requests than the events justify
}
NIGHTLY_DRIVERS = {
    **CI_DRIVERS,
    # a stampede is within the budget: CACHE-CONCURRENT-COLD and CACHE-STAMPEDE-AT-EXPIRY judge it
    "faulty.no_single_flight": "passed",
    "faulty.no_401_retry": "failed",
    "faulty.cache_forever": "failed",  # a token sent past its exp, found after a long shrink
    "httpx_auth_cc": "failed",  # docs/conformance-matrix.md
}
DRIVERS = NIGHTLY_DRIVERS if RUNS > CI_RUNS else CI_DRIVERS
SCRIPTS = {"no_401_retry_nor_single_flight": NO_401_RETRY_NOR_SINGLE_FLIGHT}  # drivers without a module
NEEDS = {"httpx_auth_cc": "httpx_auth"}  # a driver of a library from the drivers extra -> the module it needs
REQUIRED = os.environ.get("SCALEKIT_REQUIRE_DRIVERS") == "1"  # as in CI: a library not installed fails


def command(name: str, scripts: Path) -> str:
    if name in SCRIPTS:
        path = scripts / f"{name}.py"
        path.write_text(SCRIPTS[name], encoding="utf-8")
        return f"{sys.executable} {path}"
    return f"{sys.executable} -m contract_tests.drivers.{name}"


def installed(name: str) -> bool:
    return name not in NEEDS or importlib.util.find_spec(NEEDS[name]) is not None


RUN_ONCE = """\
import json, sys
from contract_tests.client.runner import run_suite
result = run_suite(sys.argv[1], only=[sys.argv[2]]).result(sys.argv[2])
print(json.dumps({"outcome": result.outcome, "message": result.message, "duration": result.duration}))
"""


@dataclass(frozen=True)
class Run:
    """What one run of the check said."""

    outcome: str
    message: str
    duration: float


def run_check(driver: str) -> Run:
    """The check against ``driver`` through ``run_suite``, in a process of its own."""
    done = subprocess.run([sys.executable, "-c", RUN_ONCE, driver, CHECK], cwd=ROOT, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT, check=False)
    assert done.returncode == 0, f"the run of {CHECK} against {driver} broke:\n{done.stderr[-3000:]}"
    return Run(**json.loads(done.stdout.splitlines()[-1]))


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[Run]]]:
    """Every driver's check, ``RUNS`` times each, two runs at a time."""
    scripts = tmp_path_factory.mktemp("drivers")
    commands = {name: command(name, scripts) for name in DRIVERS if installed(name)}
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:  # run n of every driver, then run n + 1: a balanced tail
        runs = [(name, pool.submit(run_check, cmd)) for _ in range(RUNS) for name, cmd in commands.items()]
        results: dict[str, list[Run]] = {name: [] for name in commands}
        for name, future in runs:
            results[name].append(future.result())
    print(f"\n{CHECK}, {RUNS} runs of each of {len(commands)} drivers: {time.monotonic() - started:.1f} s")
    for name, checks in results.items():
        print(f"  {name:<32} {' '.join(r.outcome for r in checks)}  "
              f"({', '.join(f'{r.duration:.1f}' for r in checks)} s)")
    yield results


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_state_machine_gives_the_same_verdict_every_run(name: str, verdicts: dict[str, list[Run]]) -> None:
    if name not in verdicts:
        assert not REQUIRED, f"SCALEKIT_REQUIRE_DRIVERS=1 but {NEEDS[name]} cannot be imported"
        pytest.skip(f"needs {NEEDS[name]} (pip install -e '.[drivers]')")
    checks = verdicts[name]
    messages = "\n\n".join(f"run {n}: {r.outcome}\n{r.message}" for n, r in enumerate(checks, 1) if r.message)

    assert [r.outcome for r in checks] == [DRIVERS[name]] * RUNS, messages


@pytest.mark.slow
def test_state_machine_names_the_same_broken_invariant_every_run(verdicts: dict[str, list[Run]]) -> None:
    # A failure's first line says which invariant broke and how; the lines after it number requests and tokens.
    firsts = {name: {r.message.splitlines()[0] for r in checks if r.message} for name, checks in verdicts.items()}

    assert {name: len(lines) for name, lines in firsts.items() if lines} == {
        name: 1 for name in verdicts if DRIVERS[name] == "failed"}, firsts


# -- which tokens the client holds, from a journal (no server) ---------------------------------------
def token_request(seq: int, fp: str) -> dict[str, object]:
    return {"seq": seq, "time": 1000.0 + seq, "endpoint": "token", "status": 200, "method": "POST",
            "path": "/oauth/token", "headers": {}, "outcome": "issued",
            "issued": {"fingerprint": fp, "jti": f"jti-{fp}", "iat": 1000, "exp": 87400}}


def api_call(seq: int, fp: str, status: int = 200) -> dict[str, object]:
    return {"seq": seq, "time": 1000.0 + seq, "endpoint": "api", "status": status, "method": "GET",
            "path": "/api/v1/organizations", "headers": {"authorization": f"Bearer {fp}"}}


def test_holding_after_a_stampede_is_every_token_it_fetched() -> None:
    # Given three concurrent calls on a cold cache, each fetching its own token (journaled as they ended)
    holding = Holding()
    stampede = [token_request(2, "fp:b"), token_request(1, "fp:a"), api_call(4, "fp:b"), token_request(3, "fp:c"),
                api_call(6, "fp:a"), api_call(5, "fp:c")]
    holding.note(JournalView(stampede), 0, advanced=0)
    # Then which one the client kept is a race: it holds any of the three
    assert list(holding.tokens(JournalView(stampede))) == ["fp:a", "fp:b", "fp:c"]
    # When its next call carries one of them, that is the one it holds
    later = [*stampede, api_call(7, "fp:b")]
    holding.note(JournalView(later), 6, advanced=0)
    assert list(holding.tokens(JournalView(later))) == ["fp:b"]


def test_holding_counts_a_token_handed_out_after_the_last_successful_call() -> None:
    # Given a call with fp:a, then a step that fetched fp:b but whose call failed, after the clocks moved a day
    holding = Holding()
    first = [token_request(1, "fp:a"), api_call(2, "fp:a")]
    holding.note(JournalView(first), 0, advanced=0)
    journal = JournalView([*first, token_request(3, "fp:b"), api_call(4, "fp:b", status=503)])
    fetched = holding.note(journal, 2, advanced=86400)
    # Then the client may hold either, and each one's age counts from when it was handed out
    assert fetched and list(holding.tokens(journal)) == ["fp:a", "fp:b"]
    assert (holding.age("fp:a", 86400), holding.age("fp:b", 86400)) == (86400, 0)
