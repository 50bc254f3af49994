#!/usr/bin/env node
// Conformance driver for openid-client v6 (npm), used unmodified, with the token cache an application writes.
//
//   cd contract_tests/drivers/node-openid-client && npm ci   (or: python -m contract_tests.drivers.install)
//   scalekit-conformance client --driver "node contract_tests/drivers/node-openid-client/driver.mjs"
//
// openid-client v6 fetches tokens but keeps none: clientCredentialsGrant() makes one token request each time
// it is called, and its docs leave caching to the application. So the client under test here is openid-client
// plus the small cache an application has to write around it (`App` below): the library's documented calls
// (discovery(), allowInsecureRequests for plain http, clientCredentialsGrant(), fetchProtectedResource()),
// and one cached token response, reused until its expiresIn() helper says it has REFRESH_MARGIN_S or less to
// live, with one token request in flight for all callers. The cache does nothing on a 401 and retries
// nothing; the driver below it is only the protocol loop of docs/driver-protocol.md and never repairs a call.

import { createRequire } from "node:module";

import FakeTimers from "@sinonjs/fake-timers";
import * as oidc from "openid-client";
import { advanceTime, serve } from "../node/protocol.mjs";

// stdout carries protocol lines only: anything the library logs goes to stderr.
console.log = console.info = console.debug = console.warn = console.error;

const LIBRARY = createRequire(import.meta.url)("openid-client/package.json");

// The client's clock: openid-client reads Date.now() (expiresIn()). Only Date is faked, so its 30 s request
// timeouts (AbortSignal.timeout) and fetch's own timers keep running on real time, and a faked timer can never
// freeze a call in flight. shouldAdvanceTime keeps the fake Date moving with real time between advance_time
// requests; `now: Date.now()` starts it at the real time rather than in 1970.
const clock = FakeTimers.install({ toFake: ["Date"], now: Date.now(), shouldAdvanceTime: true });

const REFRESH_MARGIN_S = 60; // the application's: fetch a new token once the cached one has this long to live

/** The application: openid-client's Configuration, and the token cache the library leaves to it. */
class App {
  #config;
  #base; // the environment URL the API calls go to
  #tokens = null; // the last TokenEndpointResponse
  #fetching = null; // the token request in flight, shared by every caller waiting for it

  constructor(config, base) { this.#config = config; this.#base = base; }

  static async connect({ SCALEKIT_ENVIRONMENT_URL: url, SCALEKIT_CLIENT_ID: clientId,
                         SCALEKIT_CLIENT_SECRET: clientSecret }) {
    const server = new URL(url);
    // The docs' default client authentication (ClientSecretPost); plain http only when the server is on it.
    const execute = server.protocol === "http:" ? [oidc.allowInsecureRequests] : [];
    return new App(await oidc.discovery(server, clientId, clientSecret, undefined, { execute }), server);
  }

  /** The cached token while it has more than the margin to live (a token without expires_in is never reused). */
  async accessToken() {
    if (this.#tokens !== null && (this.#tokens.expiresIn() ?? 0) > REFRESH_MARGIN_S) return this.#tokens.access_token;
    this.#fetching ??= oidc.clientCredentialsGrant(this.#config)
      .then((tokens) => { this.#tokens = tokens; return tokens; })
      .finally(() => { this.#fetching = null; });
    return (await this.#fetching).access_token;
  }

  async request(method, path, body) {
    const token = await this.accessToken();
    const url = new URL(path, this.#base);
    const headers = new Headers({ accept: "application/json" });
    const payload = body === undefined || body === null ? undefined : JSON.stringify(body);
    if (payload !== undefined) headers.set("content-type", "application/json");
    return oidc.fetchProtectedResource(this.#config, token, url, method, payload, headers);
  }
}

let app = null;

class InvalidResponse extends Error {}

/** One call through the shared app: { ok, status, body } or { ok: false, error }. */
async function oneCall({ method, path, body }) {
  try {
    app ??= await App.connect(process.env);
    const response = await app.request(String(method).toUpperCase(), String(path), body);
    const text = await response.text();
    if (response.status < 200 || response.status > 299) {
      return { ok: false, error: { status: response.status, type: typeOfStatus(response.status),
                                   message: `HTTP ${response.status}` } };
    }
    try {
      return { ok: true, status: response.status, body: text ? JSON.parse(text) : null };
    } catch {
      throw new InvalidResponse(`HTTP ${response.status} with a body that is not JSON`);
    }
  } catch (error) {
    return { ok: false, error: protocolError(error) };
  }
}

const typeOfStatus = (status) => ({ 401: "unauthenticated", 403: "permission_denied" })[status] ?? "http";

// openid-client's ClientError codes for an answer it could not use (a 200 that is no token response).
const UNUSABLE = new Set(["OAUTH_RESPONSE_IS_NOT_JSON", "OAUTH_PARSE_ERROR", "OAUTH_INVALID_RESPONSE",
                          "OAUTH_JSON_ATTRIBUTE_COMPARISON"]);
const TIMED_OUT = /\b(UND_ERR_(HEADERS|BODY|CONNECT)_TIMEOUT|ETIMEDOUT)\b/;

/** What openid-client (or fetch below it) threw, as the protocol's error object. */
function protocolError(error) {
  const text = short(error);
  // ResponseBodyError (an OAuth error body) and WWWAuthenticateChallengeError carry the status; a ClientError for
  // an unexpected status carries the Response as its cause.
  const status = typeof error?.status === "number" ? error.status
    : error?.cause instanceof Response ? error.cause.status : undefined;
  const failure = (type, status = null) => ({ status, type, message: text });
  if (status !== undefined && (status < 200 || status > 299)) return failure(typeOfStatus(status), status);
  if (error instanceof InvalidResponse || UNUSABLE.has(error?.code)) return failure("invalid_response");
  if (error?.code === "OAUTH_TIMEOUT") return failure("timeout");
  if (error instanceof TypeError && error.message === "fetch failed") { // undici: no response was received
    return failure(TIMED_OUT.test(String(error.cause?.code)) ? "timeout" : "transport");
  }
  return failure("other");
}

function short(error) {
  const parts = new Set([error?.name ?? typeof error, error?.code, error?.cause?.code, error?.status, error?.error]);
  parts.delete(undefined);
  const cause = error?.cause instanceof Error ? ` (${error.cause.message})` : ""; // e.g. fetch's ECONNREFUSED
  return `${[...parts].join(" ")}: ${String(error?.message ?? error)}${cause}`.slice(0, 300);
}

const ops = {
  // The version says the column judges the library and the application's cache together.
  hello: async () => ({ ok: true, name: `${LIBRARY.name} clientCredentialsGrant`,
                        version: `${LIBRARY.version} (+ app token cache)`,
                        capabilities: ["advance_time", "concurrent"] }),
  new_client: async () => { app = null; app = await App.connect(process.env); return { ok: true }; },
  call: (request) => oneCall(request),
  call_concurrently: async (request) => {
    app ??= await App.connect(process.env); // one shared app (and token cache) for all of them
    const calls = Array.from({ length: Number(request.count) }, () => oneCall(request));
    return { ok: true, results: await Promise.all(calls) };
  },
  advance_time: advanceTime(clock),
  shutdown: async () => ({ ok: true }),
};

await serve(ops, protocolError);
