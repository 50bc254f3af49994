"""scalekit-conformance: run a conformance suite against your code.

The client suite checks an API client (any language) through a small driver program that speaks the JSON-lines
driver protocol (docs/driver-protocol.md) against a local Scalekit mock. The provider suite checks a server -- the
mock, or your live Scalekit environment -- against the documented contract, records what a live one answers and
reports how the mock drifts from it (docs/provider-contract.md).

Exit codes: 0 conforming; 1 a MUST check failed (or a SHOULD check, with --strict; or drift found); 2 usage,
driver, protocol or target error; 3 incomplete (a check that counts did not run, for a reason you can fix);
130 interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import textwrap
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from mock_server.cli import package_version, parse

from . import matrix as matrix_mod
from . import report as render
from .client.checks import CATALOGUE
from .client.runner import UsageError, run_suite
from .client.timing import AUTO, MODES
from .drivers.catalog import SHIPPED
from .provider import cli as provider_cli
from .results import EXIT_CODES_TEXT, EXIT_INTERRUPTED

USAGE_ERROR = 2


def _catalogue_text() -> str:
    return "\n".join(f"{c.id:<30} {c.level:<6} {c.rationale}{_needs(c.needs)}" for c in CATALOGUE)


def _needs(needs: frozenset[str]) -> str:
    """What a check needs, for the listing: advance_time is time dependence (real time serves without it)."""
    words = ["time-dependent" if need == "advance_time" else f"needs {need}" for need in sorted(needs)]
    return f" [{', '.join(words)}]" if words else ""


def _add_client(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    client = commands.add_parser(
        "client", help="check an API client through its driver", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Start a mock Scalekit environment on 127.0.0.1, start the driver command once per check "
        "(with SCALEKIT_ENVIRONMENT_URL, SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET set) and run the checks "
        "through it. Checks needing a capability the driver does not offer are skipped; the time-dependent ones "
        "run in real time instead when the driver cannot move its clock (advance_time).",
        epilog=EXIT_CODES_TEXT.format(subject="driver (it did not start, or broke the protocol)")
        + "\n\nchecks (--list prints them):\n"
        + textwrap.indent(_catalogue_text(), "  "))
    client.add_argument("--driver", metavar="CMD", help='the driver command, split like a shell would, e.g. '
                        '"python -m contract_tests.drivers.reference" or "node driver.js"')
    client.add_argument("--strict", action="store_true", help="SHOULD failures fail the run too (exit code 1)")
    client.add_argument("--only", nargs="+", metavar="ID", action="extend", help="run only these checks")
    client.add_argument("--skip", nargs="+", metavar="ID", action="extend", help="do not run these checks")
    client.add_argument("--timeout", type=float, default=30.0, metavar="S",
                        help="deadline for each driver op; a driver that misses it is killed (default 30; a "
                        "driver's first hello gets at least 30 s to start up)")
    client.add_argument("--hang-bound", type=float, default=10.0, metavar="S",
                        help="how long ERR-TOKEN-ENDPOINT-HANG and ERR-API-HANG let an op take against a hung token "
                        "endpoint or API (default 10)")
    client.add_argument("--live", action="store_true",
                        help="run against the real environment of SCALEKIT_ENVIRONMENT_URL with the real "
                        "SCALEKIT_CLIENT_ID/SCALEKIT_CLIENT_SECRET, through a journaling proxy (under a hundred real "
                        "requests, at most 25 per check; checks the proxy cannot serve are skipped)")
    client.add_argument("--time", choices=MODES, default=AUTO,
                        help="how the time-dependent checks let time pass: virtual (both clocks jump: the driver "
                        "must offer advance_time, else they are skipped), real (the suite waits, on 15 s tokens: about "
                        "two minutes in all), or auto (default: virtual when the driver offers advance_time, else "
                        "real); the report says which ran")
    client.add_argument("--reuse-driver", action="store_true",
                        help="one driver process for every check (only for drivers whose new_client clears "
                        "all client state)")
    client.add_argument("--grpc", action="store_true",
                        help="serve the mock's gRPC face too (HTTP/2 on the same port), for clients calling the API "
                        "over gRPC such as the official SDKs")
    client.add_argument("--tls", action="store_true",
                        help="serve the mock over HTTPS with a throwaway CA; the driver trusts it through "
                        "SSL_CERT_FILE, REQUESTS_CA_BUNDLE, GRPC_DEFAULT_SSL_ROOTS_FILE_PATH and NODE_EXTRA_CA_CERTS")
    client.add_argument("--report-json", metavar="PATH", help="write the report as JSON")
    client.add_argument("--junit-xml", metavar="PATH", help="write the report as JUnit XML")
    client.add_argument("--report-md", metavar="PATH", help="write the report as Markdown")
    client.add_argument("--report-html", metavar="PATH", help="write the report as one self-contained HTML page, "
                        "with a timeline of each check")
    client.add_argument("--list", action="store_true", help="list the checks (ID, level, rationale) and exit")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scalekit-conformance", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="SUITE")
    _add_client(commands)
    provider_cli.add_parser(commands)
    _add_matrix(commands)
    for command in commands.choices.values():
        command.set_defaults(command_parser=command)
    return parser


def _add_matrix(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    matrix = commands.add_parser(
        "matrix", help="run the client suite against every shipped driver and write the conformance matrix",
        description="Run the whole client suite against each real client shipped in contract_tests/drivers/ "
        "(scalekit-sdk-python, @scalekit-sdk/node, authlib, httpx-auth, requests-oauthlib, golang.org/x/oauth2, "
        "and the reference client) and write the matrix page, or with --check compare its verdicts with the "
        "committed page.",
        epilog="exit codes: 0 written, or no verdict changed; 1 verdicts changed (--check); 2 a driver could not "
        "run or the page could not be read")
    matrix.add_argument("--output", metavar="PATH", default=str(matrix_mod.DEFAULT_PATH),
                        help=f"the page to write or check (default {matrix_mod.DEFAULT_PATH})")
    matrix.add_argument("--readme", metavar="PATH", default="README.md",
                        help="also refresh the table between the conformance-matrix markers of this file, if it has "
                        "them (default README.md)")
    matrix.add_argument("--check", action="store_true",
                        help="don't write: fail (exit 1) when a verdict or client version differs from the page")
    matrix.add_argument("--html", metavar="PATH",
                        help="also write the matrix as one self-contained HTML page, cells coloured by outcome with "
                        "the reason of each miss on its cell (with --check too: the page of the run checked)")
    matrix.add_argument("--jobs", type=int, default=2, metavar="N", help="drivers run at once (default 2)")
    matrix.add_argument("--driver", dest="drivers", nargs="+", metavar="KEY", action="extend",
                        choices=[d.key for d in SHIPPED], help="only these drivers (not with --check)")


def run_matrix_command(args: argparse.Namespace) -> int:
    path = Path(args.output)
    drivers = [d for d in SHIPPED if d.key in args.drivers] if args.drivers else list(SHIPPED)
    if args.check and args.drivers:
        print("scalekit-conformance matrix: --check compares every client; leave out --driver", file=sys.stderr)
        return USAGE_ERROR
    try:
        committed = path.read_text(encoding="utf-8") if args.check else ""
        columns = matrix_mod.run_matrix(drivers, jobs=args.jobs, require_all=args.check)
        if args.html:
            Path(args.html).write_text(matrix_mod.render_html(columns), encoding="utf-8")
            print(f"wrote {args.html}")
        if args.check:
            diffs = matrix_mod.differences(committed, columns)
            for line in diffs:
                print(line)
            print(f"{len(diffs)} verdict(s) differ from {path}" if diffs else f"every verdict matches {path}")
            return 1 if diffs else 0
    except (OSError, matrix_mod.MatrixError) as exc:
        print(f"scalekit-conformance matrix: {exc}", file=sys.stderr)
        return USAGE_ERROR
    path.write_text(matrix_mod.render(columns), encoding="utf-8")
    readme = Path(args.readme)
    if readme.is_file():
        text = readme.read_text(encoding="utf-8")
        if matrix_mod.embed(text, columns) != text:
            readme.write_text(matrix_mod.embed(text, columns), encoding="utf-8")
            print(f"refreshed the table in {readme}")
    for column in columns:
        report = column.report
        summary = column.missing if report is None else \
            f"{sum(r.outcome == 'passed' for r in report.results)}/{len(report.results)} passed"
        print(f"{column.header}: {summary}")
    print(f"wrote {path}")
    return 0


def run_client(args: argparse.Namespace) -> int:
    if args.list:
        print(_catalogue_text())
        return 0
    if not args.driver:
        print("scalekit-conformance client: --driver CMD is required (or --list)", file=sys.stderr)
        return USAGE_ERROR
    try:
        report = run_suite(args.driver, only=args.only, skip=args.skip, strict=args.strict, op_timeout=args.timeout,
                           hang_bound=args.hang_bound, reuse_driver=args.reuse_driver, live=args.live,
                           grpc=args.grpc, tls=args.tls, time=args.time, on_result=render.print_progress)
    except UsageError as exc:
        print(f"scalekit-conformance client: {exc}", file=sys.stderr)
        return USAGE_ERROR
    return render.present(report, "scalekit-conformance client", json_path=args.report_json,
                          junit_path=args.junit_xml, md_path=args.report_md, html_path=args.report_html)


SUITES = {"client": run_client, "provider": provider_cli.run, "matrix": run_matrix_command}




def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM ends a run as Ctrl-C does: the checks done so far are reported


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(build_parser(), sys.argv[1:] if argv is None else argv)
    in_main = threading.current_thread() is threading.main_thread()  # signal handlers can only be set there
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main else None
    try:
        return SUITES[args.command](args)
    except KeyboardInterrupt:  # before any check ran (starting the mock or the driver): nothing to report
        print(f"scalekit-conformance {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
