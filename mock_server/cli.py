"""scalekit-mock: run the mock server (or a journaling proxy in front of a real environment), fetch a token from
it, or benchmark it."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import queue
import re
import signal
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

from .core.config import SIGNING_KEYS, MockConfig
from .core.control import default_clients
from .core.credentials import CONTROL_TOKEN_HEADER
from .core.data import load_fixtures
from .core.errors import MockError
from .core.journal import JournalEntry
from .core.ratelimit import MAX_REQUESTS_PER_MINUTE
from .core.state import shown_url
from .pipeline.guard import is_loopback
from .server import MockServer

DEFAULT_PORT = 8080
CONTROL_TOKEN_ENV = "SCALEKIT_MOCK_CONTROL_TOKEN"
STATE_ENV = "SCALEKIT_MOCK_STATE"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scalekit-mock", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the mock server until Ctrl-C or SIGTERM",
                                description="Run a mock Scalekit environment. It takes its client from "
                                "SCALEKIT_CLIENT_ID/SCALEKIT_CLIENT_SECRET when both are set, else the default "
                                "clients, and prints the exports a client needs.")
    serve.add_argument("--host", default=None, help="address to bind (default 127.0.0.1: loopback only)")
    serve.add_argument("--port", type=int, default=None, help=f"port to bind (default {DEFAULT_PORT}; 0 picks one)")
    serve.add_argument("--config", metavar="FILE", help="JSON config file (fields of MockConfig; see docs)")
    serve.add_argument("--token-lifetime", type=int, metavar="S", help="token lifetime exp - iat in seconds")
    serve.add_argument("--journal-size", type=int, metavar="N", help="journal ring size (default 10000)")
    serve.add_argument("--threads", type=int, metavar="N", help="worker threads (default 8)")
    serve.add_argument("--fixtures", metavar="DIR", help="a directory of fixture files replacing the shipped ones "
                       "of the same name (e.g. an errors.json with other message texts)")
    serve.add_argument("--quiet", action="store_true", help="don't log a line per request")
    serve.add_argument("--grpc", action="store_true", default=None,
                       help="serve the gRPC face too (HTTP/2 on the same port: h2c, or h2 with --tls), for the "
                       "official SDKs")
    serve.add_argument("--tls", action="store_true", default=None,
                       help="serve HTTPS with a throwaway CA (printed exports make clients trust it)")
    serve.add_argument("--tls-cert", metavar="PEM", help="serve this certificate chain instead of a throwaway one")
    serve.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    serve.add_argument("--rate-limit", type=_rate_limit, metavar="N", help="answer API requests past N per minute "
                       "of the mock's clock with 429 RATE_LIMITED, as Scalekit's rate limit does (default: no limit)")
    serve.add_argument("--signing-key-file", metavar="PEM", help="sign tokens with this RSA private key (default: a "
                       "key generated for this run)")
    serve.add_argument("--signing-key", choices=SIGNING_KEYS, help="'fixture': sign with the key shipped in the "
                       "package, the same JWKS and kid in every run (deterministic, for reproducible tests; INSECURE: "
                       "its private key is public). Default 'generated': a key made for this run")
    serve.add_argument("--state", metavar="URL", help="keep the environment's state in Redis (redis://HOST:PORT/DB): "
                       f"every mock pointed at it is one environment (default ${STATE_ENV}, else this process only)")
    serve.add_argument("--workers", type=int, default=1, metavar="N", help="serve with N processes on one port, one "
                       "environment (needs --state; default 1)")
    _add_allowed_host(serve)
    _add_control_token(serve)
    _add_proxy(commands)
    token = commands.add_parser("token", help="print a fresh access token from a running mock",
                                description="Ask a running mock for a token (for curl). Credentials and URL "
                                "come from the options, else SCALEKIT_* variables, else the defaults.")
    token.add_argument("--url", help=f"environment URL (default $SCALEKIT_ENVIRONMENT_URL or "
                       f"http://127.0.0.1:{DEFAULT_PORT})")
    token.add_argument("--client-id", help="client id (default $SCALEKIT_CLIENT_ID or the default client)")
    token.add_argument("--client-secret", help="client secret (default $SCALEKIT_CLIENT_SECRET or the default)")
    token.add_argument("--scope", help="space-separated scopes to ask for")
    token.add_argument("--json", action="store_true", help="print the whole token response")
    bench = commands.add_parser("bench", help="measure the mock's throughput, start time and memory",
                                add_help=False)
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    for command in commands.choices.values():
        command.set_defaults(command_parser=command)
    return parser


def _rate_limit(text: str) -> int:
    """``--rate-limit N``: a whole number of requests per minute (argparse's message then names the flag)."""
    if not re.fullmatch(r"[0-9]{1,7}", text) or not 1 <= int(text) <= MAX_REQUESTS_PER_MINUTE:
        raise argparse.ArgumentTypeError(f"must be a whole number of requests per minute, from 1 to "
                                         f"{MAX_REQUESTS_PER_MINUTE} (not {text!r})")
    return int(text)


def parse(parser: argparse.ArgumentParser, words: Sequence[str]) -> argparse.Namespace:
    """Parse like ``parse_args``, but an option the command does not know gets the command's usage, not the top
    level's (``scalekit-mock serve --prot 1``: "serve: unrecognized arguments")."""
    args, unknown = parser.parse_known_args(words)
    if unknown:
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def package_version() -> str:
    """The installed scalekit-mock's version, for ``--version``."""
    try:
        return metadata.version("scalekit-mock")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "unknown"


def _add_proxy(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    proxy = commands.add_parser(
        "proxy", help="run a journaling proxy in front of a real environment until Ctrl-C or SIGTERM",
        description="Forward token, keys, discovery and API requests to the upstream environment and relay its "
        "answers unchanged, journaling every exchange (secrets and tokens fingerprinted) and playing the control "
        "plane's faults, revocations and clock in front of it (docs/control-plane.md, proxy mode). Point your "
        "client at the proxy with your real SCALEKIT_CLIENT_ID/SCALEKIT_CLIENT_SECRET.")
    proxy.add_argument("--upstream", metavar="URL", help="the environment to forward to, e.g. "
                       "https://acme.scalekit.dev (default $SCALEKIT_ENVIRONMENT_URL)")
    proxy.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: loopback only)")
    proxy.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to bind (default {DEFAULT_PORT}; "
                       "0 picks one)")
    proxy.add_argument("--timeout", type=float, default=10.0, metavar="S",
                       help="seconds for each phase of an upstream request (default 10); then the client gets 504")
    proxy.add_argument("--budget", type=int, metavar="N", help="forward at most N requests between two resets "
                       "(POST /_mock/reset); the rest get 429 from the proxy (default: no limit)")
    proxy.add_argument("--journal-size", type=int, default=10_000, metavar="N", help="journal ring size")
    proxy.add_argument("--quiet", action="store_true", help="don't log a line per request")
    _add_allowed_host(proxy)
    _add_control_token(proxy)


def _add_allowed_host(command: argparse.ArgumentParser) -> None:
    command.add_argument("--allowed-host", metavar="NAME", action="append", dest="allowed_hosts",
                         help="also answer requests whose Host is NAME (repeatable). Bound to loopback, the mock "
                         "answers only to localhost, 127.x, [::1] and its configured host (DNS-rebinding guard)")


def _add_control_token(command: argparse.ArgumentParser) -> None:
    command.add_argument("--control-token", metavar="TOKEN", help=f"require TOKEN in the {CONTROL_TOKEN_HEADER} "
                         f"header of every /_mock/ request (default ${CONTROL_TOKEN_ENV}; bound beyond loopback "
                         "without one, the mock makes one and prints it). A flag shows in the process list: prefer "
                         "the variable or the config file")


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["bench"]:  # its options are the benchmark's own: hand them over untouched
        from .bench import main as bench_main

        return bench_main(words[1:])
    args = parse(build_parser(), words)
    try:
        if args.command == "serve":
            return serve(args)
        if args.command == "proxy":
            return run_proxy(args)
        return print_token(args)
    except MockError as exc:
        print(f"scalekit-mock: error: {exc}", file=sys.stderr)
        return 2


def serve_config(args: argparse.Namespace, environ: dict[str, str] | os._Environ[str]) -> MockConfig:
    """Defaults, then the config file, then the environment, then the flags."""
    config = MockConfig(port=DEFAULT_PORT)
    if args.config:
        config = MockConfig.from_file(args.config, config)
    flags = {"host": args.host, "port": args.port, "token_lifetime": args.token_lifetime,
             "journal_size": args.journal_size, "threads": args.threads, "fixtures_dir": args.fixtures,
             "grpc": args.grpc, "tls": args.tls, "tls_cert": args.tls_cert, "tls_key": args.tls_key,
             "rate_limit": args.rate_limit, "signing_key_file": args.signing_key_file,
             "signing_key": args.signing_key, "state": args.state or environ.get(STATE_ENV) or None,
             "control_token": args.control_token or environ.get(CONTROL_TOKEN_ENV) or None}
    overrides = flags["fixtures_dir"] or config.fixtures_dir
    config = config.with_env(environ, default_clients(load_fixtures(Path(overrides) if overrides else None)))
    allowed = (*config.allowed_hosts, *(args.allowed_hosts or ()))  # the flags add to the config file's
    return replace(config, **{k: v for k, v in flags.items() if v is not None}, log_requests=not args.quiet,
                   allowed_hosts=allowed)


def exposure_warning(config: MockConfig, port: int) -> str | None:
    """The warning for a bind beyond loopback: what anyone on the network can then do (``None`` on loopback)."""
    if is_loopback(config.host):
        return None
    return (f"# WARNING: bound to {config.host}, not loopback: anyone who can reach this machine on port {port} can "
            "get tokens with the printed credentials and call the API with them, and anyone who also holds the "
            "control token can use the control plane (/_mock/: reset, faults, clients and their secrets, signing "
            "keys, the clock, revocations, the journal). The Host check against DNS rebinding is off. Bind to "
            "127.0.0.1 (the default) unless other machines must reach the mock.")


def control_token_lines(token: str | None, given: str | None, args: argparse.Namespace,
                        environ: Mapping[str, str]) -> list[str]:
    """What stderr says of the control token: one the mock made is printed, this once; one ``given`` (flag,
    environment, config file) is the user's, and is named, not printed (it would land in CI logs). Nothing when
    the control plane needs none."""
    if token is None:
        return []
    if given is None:
        return [f"# /_mock/ requests need this control token, made for this run, in the {CONTROL_TOKEN_HEADER} "
                "header (it is not shown again):", f"export {CONTROL_TOKEN_ENV}={token}"]
    if args.control_token:
        source = "--control-token"
    elif environ.get(CONTROL_TOKEN_ENV):
        source = f"{CONTROL_TOKEN_ENV} in this environment"
    else:
        source = f"the config file {args.config}"
    return [f"# /_mock/ requests need the control token from {source} (not printed), in the {CONTROL_TOKEN_HEADER} "
            "header"]


def serve(args: argparse.Namespace) -> int:
    config = serve_config(args, os.environ)
    if args.workers != 1:
        return serve_workers(args, config)
    log = RequestLog() if config.log_requests else None
    server = MockServer(config, log=log).start()
    stop = _stop_on_signals()
    _warn_exposure(config, server.port)
    _print_control_token(server.control_token, config.control_token, args, os.environ)
    _print_banner(config, server.url, exports(server, os.environ, args.config))
    return _serve_until(stop, server, log)


def serve_workers(args: argparse.Namespace, config: MockConfig) -> int:
    """``serve --workers N``: N processes, one port, one environment (``workers.py``)."""
    from .workers import Workers

    workers = Workers(config, args.workers, config.log_requests, args.config)
    stop = _stop_on_signals()
    lines = workers.start()
    shared = workers.config
    _warn_exposure(shared, shared.port)
    _print_control_token(shared.control_token, config.control_token, args, os.environ)
    url = next(line.split("=", 1)[1] for line in lines if line.startswith("export SCALEKIT_ENVIRONMENT_URL="))
    print(f"# {args.workers} worker processes on port {shared.port}, one environment in the shared state "
          f"{shown_url(shared.state or '')}")
    _print_banner(config, url, lines)
    sys.stdout.flush()  # a pipe is block-buffered: whoever reads the banner must get it now
    return workers.wait(stop)


def _print_banner(config: MockConfig, url: str, lines: list[str]) -> None:
    faces = " with the gRPC face" if config.grpc else ""
    print(f"# scalekit-mock serving {url}{faces} (Ctrl-C to stop). For your client:")
    for line in lines:
        print(line)
    if config.rate_limit is not None:
        print(f"# rate limit: {config.rate_limit} API requests per minute of the mock's clock, then 429")
    print(f"# the mock's own endpoints (clock, faults, journal, ...): {url}/_mock/ (docs/control-plane.md)")


def exports(server: MockServer, environ: Mapping[str, str], config_file: str | None) -> list[str]:
    """The lines a user pastes. A secret is printed only when it is a built-in test client's (fixtures/clients.json):
    one from the environment or a config file is the user's, and is never echoed (it would land in CI logs)."""
    built_in = {(c.client_id, c.client_secret) for c in default_clients(load_fixtures(None))}
    lines = [f"export SCALEKIT_ENVIRONMENT_URL={server.url}", f"export SCALEKIT_CLIENT_ID={server.client_id}"]
    if (server.client_id, server.client_secret) in built_in:
        lines.append(f"export SCALEKIT_CLIENT_SECRET={server.client_secret}")
    else:
        if environ.get("SCALEKIT_CLIENT_SECRET") == server.client_secret:
            source = "SCALEKIT_CLIENT_SECRET in this environment"
        else:
            source = f"the config file {config_file}" if config_file else "your fixtures' clients.json"
        lines.append(f"# SCALEKIT_CLIENT_SECRET: the one from {source} (not printed)")
    lines += [f"export {name}={value}" for name, value in server.trust_env.items()]
    limited = server.limited_client
    if limited is not None:
        scopes = " ".join(limited.scopes or ()) or "none"
        secret = (limited.client_secret if (limited.client_id, limited.client_secret) in built_in
                  else "as configured (not printed)")
        lines.append(f"# a limited client (scopes: {scopes}), for 403 Insufficient permissions: "
                     f"client id {limited.client_id}, secret {secret}")
    return lines


def proxy_config(args: argparse.Namespace, environ: Mapping[str, str]) -> MockConfig:
    """The proxy's config: the flags, with the real client from the environment (so its secret is redacted)."""
    upstream = args.upstream or environ.get("SCALEKIT_ENVIRONMENT_URL")
    if not upstream:
        raise MockError("name the environment to forward to: --upstream URL (or set SCALEKIT_ENVIRONMENT_URL)")
    config = MockConfig(host=args.host, port=args.port, upstream=upstream, upstream_timeout=args.timeout,
                        upstream_budget=args.budget, journal_size=args.journal_size, log_requests=not args.quiet,
                        allowed_hosts=tuple(args.allowed_hosts or ()),
                        control_token=args.control_token or environ.get(CONTROL_TOKEN_ENV) or None)
    return config.with_env(environ)


def run_proxy(args: argparse.Namespace) -> int:
    environ = os.environ
    config = proxy_config(args, environ)
    log = RequestLog() if config.log_requests else None
    server = MockServer(config, log=log).start()
    if server.url == config.upstream:
        server.stop()
        raise MockError(f"the upstream {config.upstream} is this proxy itself: name the real environment")
    stop = _stop_on_signals()
    _warn_exposure(config, server.port)
    _print_control_token(server.control_token, config.control_token, args, environ)
    print(f"# scalekit-mock proxying {config.upstream} on {server.url} (Ctrl-C to stop). For your client:")
    print(f"export SCALEKIT_ENVIRONMENT_URL={server.url}")
    if environ.get("SCALEKIT_CLIENT_ID") and environ.get("SCALEKIT_CLIENT_SECRET"):
        print("# SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET: your real ones, as already set here "
              "(the secret is not printed)")
    else:
        print("# and set SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET to your real ones: the upstream checks them")
    print(f"# journal, faults, clock, revocation: {server.url}/_mock/ (docs/control-plane.md, proxy mode)")
    return _serve_until(stop, server, log)


def _warn_exposure(config: MockConfig, port: int) -> None:
    warning = exposure_warning(config, port)
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)


def _print_control_token(token: str | None, given: str | None, args: argparse.Namespace,
                         environ: Mapping[str, str]) -> None:
    for line in control_token_lines(token, given, args, environ):
        print(line, file=sys.stderr, flush=True)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop


def _serve_until(stop: threading.Event, server: MockServer, log: RequestLog | None) -> int:
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    server.stop()
    if log is not None:
        log.close()
    print("# scalekit-mock stopped", file=sys.stderr)
    return 0


class RequestLog:
    """The request log of ``serve`` and ``proxy``: a redacted line per request on stderr, written by a thread of its
    own, so that a slow reader (a paused pager, a full pipe) never holds up a request. Past ``limit`` lines waiting,
    further ones are counted instead, and the count is written once the reader catches up."""

    blocks = False  # a request may be served on the event loop with this log (JournalMiddleware.computes_only)

    def __init__(self, limit: int = 10_000) -> None:
        self._lines: queue.Queue[JournalEntry | None] = queue.Queue(limit)
        self._dropped = 0
        self._lock = threading.Lock()
        self._writer = threading.Thread(target=self._write, name="scalekit-mock-log", daemon=True)
        self._writer.start()

    def __call__(self, entry: JournalEntry) -> None:
        try:
            self._lines.put_nowait(entry)
        except queue.Full:
            with self._lock:
                self._dropped += 1

    def close(self, timeout: float = 5.0) -> None:
        """Write what is waiting (for at most ``timeout`` seconds: the reader may be gone), then stop."""
        try:
            self._lines.put(None, timeout=timeout)
        except queue.Full:
            return
        self._writer.join(timeout)

    def _write(self) -> None:
        while True:
            entry = self._lines.get()
            with self._lock:
                dropped, self._dropped = self._dropped, 0
            try:
                if dropped:  # said before the next line, or at the end
                    print(f"# {dropped} request lines not written: the log was not read fast enough", file=sys.stderr)
                if entry is not None:
                    print(log_line(entry), file=sys.stderr, flush=True)
            except (OSError, ValueError):  # stderr closed or gone: the requests go on unlogged
                pass
            if entry is None:
                return


def log_line(entry: JournalEntry) -> str:
    """One redacted line for a request (the journal entry is already free of secrets and tokens)."""
    stamp = dt.datetime.fromtimestamp(entry.time, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    parts = [stamp, entry.method, entry.path, str(entry.status), entry.outcome or "-"]
    if entry.client_id:
        parts.append(f"client={entry.client_id}")
    token = entry.issued or entry.token
    if token:
        parts.append(f"token={token['fingerprint']}")
    if entry.fault:
        parts.append(f"fault={entry.fault['kind']}")
    upstream = entry.extra.get("upstream")
    if isinstance(upstream, dict):  # proxy mode: what the upstream answered, and how fast
        answer = upstream.get("status", upstream.get("error"))
        parts.append(f"upstream={answer} {1000 * float(upstream.get('latency', 0)):.0f}ms")
    return printable(" ".join(parts))


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """The text with control characters escaped (``\\x0a``): a request path holding a newline or an ANSI escape
    must not forge a log line or repaint the terminal."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def print_token(args: argparse.Namespace) -> int:
    default = next(c for c in default_clients(load_fixtures(None)) if c.scopes is None)
    url = (args.url or os.environ.get("SCALEKIT_ENVIRONMENT_URL") or f"http://127.0.0.1:{DEFAULT_PORT}").rstrip("/")
    form = {"grant_type": "client_credentials",
            "client_id": args.client_id or os.environ.get("SCALEKIT_CLIENT_ID") or default.client_id,
            "client_secret": args.client_secret or os.environ.get("SCALEKIT_CLIENT_SECRET") or default.client_secret}
    if args.scope:
        form["scope"] = args.scope
    if not url.startswith(("http://", "https://")):
        raise MockError(f"--url must be an http(s) URL, not {url!r}")
    body = _post_form(f"{url}/oauth/token", form)
    print(json.dumps(body, indent=2) if args.json else body["access_token"])
    return 0


def _post_form(url: str, form: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(),
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300]
        raise MockError(f"token request failed: {exc.code} {exc.reason}: {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise MockError(f"cannot reach {url}: {exc}") from exc
    except ValueError as exc:
        raise MockError(f"{url} did not answer JSON") from exc
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise MockError(f"{url} answered without an access_token")
    return body


if __name__ == "__main__":
    sys.exit(main())
