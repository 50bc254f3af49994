"""``scalekit-conformance provider``: the provider checks against a mock or a live environment, recordings
and the drift report. Exit codes: 0 conforming (or no drift), 1 a MUST check failed (or a SHOULD one with
--strict; or drift found), 2 a usage error, or a target that cannot be reached or checked, 3 incomplete,
130 interrupted (``contract_tests.results``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from pathlib import Path

from mock_server import MockError

from .. import report as render
from ..results import EXIT_CODES_TEXT
from .cases import CASES
from .checks import CATALOGUE
from .drift import drift
from .drift import render as render_drift
from .record import RecordingError
from .runner import UsageError, run_provider_suite
from .target import ENV_EXPIRED_TOKEN, ENV_FORBIDDEN_ROUTE, ENV_LIMITED_ID, ENV_LIMITED_SECRET, Target, TargetError

USAGE_ERROR = 2
PROG = "scalekit-conformance provider"


def catalogue_text() -> str:
    return "\n".join(f"{c.id:<26} {c.level:<6} {c.summary} [{c.source}]" for c in CATALOGUE)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    provider = commands.add_parser(
        "provider", help="check a server (the mock, or your live Scalekit environment) against the documented "
        "contract", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Start a mock Scalekit environment on 127.0.0.1 and run the provider checks against it; with "
        "--live, run them against the environment of SCALEKIT_ENVIRONMENT_URL with SCALEKIT_CLIENT_ID and "
        "SCALEKIT_CLIENT_SECRET (at most 17 requests, GET only on the API; the secret is never printed). "
        f"Optional: {ENV_LIMITED_ID} and {ENV_LIMITED_SECRET} (a client lacking the permission of "
        f"{ENV_FORBIDDEN_ROUTE}, default /api/v1/users?page_size=10), {ENV_EXPIRED_TOKEN} (a token of that "
        "environment saved more than a day ago).",
        epilog=EXIT_CODES_TEXT.format(subject="target (unreachable, or not answering like a Scalekit environment)")
        + "; with --drift: 0 no drift, 1 drift found\n\nchecks (--list prints them):\n"
        + textwrap.indent(catalogue_text(), "  "))
    provider.add_argument("--live", action="store_true", help="check the live environment of the SCALEKIT_* "
                          "variables instead of a mock")
    provider.add_argument("--record", metavar="DIR", help="save what the target answered, one JSON file per case "
                          "(tokens and secrets redacted)")
    provider.add_argument("--drift", metavar="DIR", help="compare the recording in DIR with a fresh mock's "
                          "answers to the same cases and list every difference (runs no check)")
    provider.add_argument("--fixtures", metavar="DIR", help="with --drift: the mock reads these fixture files "
                          "instead of the shipped ones of the same name")
    provider.add_argument("--drift-json", metavar="PATH", help="with --drift: also write the differences as JSON")
    provider.add_argument("--strict", action="store_true", help="SHOULD failures fail the run too (exit code 1)")
    provider.add_argument("--only", nargs="+", metavar="ID", action="extend", help="run only these checks")
    provider.add_argument("--skip", nargs="+", metavar="ID", action="extend", help="do not run these checks")
    provider.add_argument("--timeout", type=float, default=10.0, metavar="S",
                          help="deadline of each request in seconds (default 10)")
    provider.add_argument("--report-json", metavar="PATH", help="write the report as JSON")
    provider.add_argument("--junit-xml", metavar="PATH", help="write the report as JUnit XML")
    provider.add_argument("--report-md", metavar="PATH", help="write the report as Markdown")
    provider.add_argument("--report-html", metavar="PATH", help="write the report as one self-contained HTML page")
    provider.add_argument("--list", action="store_true", help="list the checks (ID, level, what, source) and exit")


def _error(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return USAGE_ERROR


def run(args: argparse.Namespace) -> int:
    if args.list:
        print(catalogue_text())
        return 0
    if args.drift:
        if args.live or args.record:
            return _error("--drift compares a recording with the mock: it takes no --live or --record")
        return _run_drift(args)
    if args.fixtures or args.drift_json:
        return _error("--fixtures and --drift-json go with --drift DIR")
    try:
        target = Target.from_env(os.environ) if args.live else None
        if args.record:
            Path(args.record).mkdir(parents=True, exist_ok=True)
        report = run_provider_suite(target, only=args.only, skip=args.skip, strict=args.strict, timeout=args.timeout,
                                    record=args.record, command="provider --live" if args.live else "provider",
                                    on_result=render.print_progress)
    except (UsageError, TargetError, RecordingError, MockError, OSError) as exc:
        return _error(str(exc))
    if args.record and report.startup_error is None:
        recorded = sum((Path(args.record) / f"{name}.json").is_file() for name in CASES)
        print(f"recorded {recorded} case(s) in {args.record}", file=sys.stderr)
    return render.present(report, PROG, json_path=args.report_json, junit_path=args.junit_xml,
                          md_path=args.report_md, html_path=args.report_html)


def _run_drift(args: argparse.Namespace) -> int:
    try:
        found = drift(Path(args.drift), fixtures_dir=args.fixtures, timeout=args.timeout)
    except (RecordingError, TargetError, MockError) as exc:
        return _error(str(exc))
    print(render_drift(found), end="")
    if args.drift_json:
        try:
            Path(args.drift_json).write_text(json.dumps(found.to_json(), indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            return _error(f"cannot write {args.drift_json}: {exc}")
    return found.exit_code
