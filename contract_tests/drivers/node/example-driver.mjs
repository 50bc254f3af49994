#!/usr/bin/env node
// An example conformance driver for a Node client (Node >= 18, no dependencies).
//
// Run the suite against it with:
//   scalekit-conformance client --driver "node contract_tests/drivers/node/example-driver.mjs"
//
// The file has two halves. The first is a small careful Scalekit client, standing in for the one you
// test (yours would be imported instead). The second is the driver: the protocol loop of
// docs/driver-protocol.md, which turns JSON lines on stdin into calls on that client and writes
// one JSON line per request to stdout. The driver only reports what the client did: it never
// retries or repairs a failed call on the client's behalf.

import readline from "node:readline";

// ---------------------------------------------------------------------------------------------
// The client under test
// ---------------------------------------------------------------------------------------------

const RETRYABLE = new Set([429, 500, 502, 503, 504]);

/** A failed call. `status` is the HTTP status, or null when no usable response came back. */
class ScalekitError extends Error {
  constructor(status, kind, message) {
    super(message);
    this.status = status; // number | null
    this.kind = kind; // "http" | "timeout" | "transport" | "invalid_response"
  }
}

class ScalekitClient {
  /**
   * @param {object} options
   * @param {() => number} [options.now] the clock in seconds; injectable so tests can move it
   */
  constructor({ environmentUrl, clientId, clientSecret, now = () => Date.now() / 1000,
                timeoutMs = 5000, tokenAttempts = 3, maxMarginSeconds = 60, maxLifetimeSeconds = 86400 }) {
    this.baseUrl = environmentUrl.replace(/\/+$/, "");
    this.form = new URLSearchParams({ grant_type: "client_credentials", client_id: clientId,
                                      client_secret: clientSecret });
    Object.assign(this, { now, timeoutMs, tokenAttempts, maxMarginSeconds, maxLifetimeSeconds });
    this.token = null; // { value, refreshAt } on this.now()'s clock
    this.pending = null; // the token fetch in flight, shared by every caller (single flight)
  }

  /** Make an API call; resolves to { status, body } or rejects with a ScalekitError. */
  async request(method, path, body) {
    const token = await this.currentToken();
    let response = await this.send(method, path, body, token);
    if (response.status === 401) {
      await response.body?.cancel(); // release the connection
      // The server no longer accepts a token we believed valid (revoked, rotated key): once more.
      this.forget(token);
      response = await this.send(method, path, body, await this.currentToken());
    }
    const parsed = await readJson(response);
    if (!response.ok) throw new ScalekitError(response.status, "http", errorMessage(response, parsed));
    return { status: response.status, body: parsed };
  }

  async currentToken() {
    if (this.token && this.now() < this.token.refreshAt) return this.token.value;
    if (!this.pending) {
      this.pending = this.fetchToken()
        .then((token) => { this.token = token; return token.value; })
        .finally(() => { this.pending = null; });
    }
    return this.pending;
  }

  forget(value) {
    if (this.token?.value === value) this.token = null;
  }

  async fetchToken() {
    for (let attempt = 1; ; attempt++) {
      const started = this.now();
      const response = await this.http("/oauth/token", { method: "POST", body: this.form });
      const body = await readJson(response, response.status === 200);
      if (response.status === 200) return this.parseToken(body, started);
      if (!RETRYABLE.has(response.status) || attempt >= this.tokenAttempts) {
        throw new ScalekitError(response.status, "http", `token request failed: ${errorMessage(response, body)}`);
      }
      await sleep(retryDelayMs(response, attempt));
    }
  }

  parseToken(body, started) {
    const { access_token: value, token_type: type, expires_in: expiresIn } = body ?? {};
    const invalid = (why) => new ScalekitError(null, "invalid_response", `token response ${why}`);
    if (typeof value !== "string" || !value || /\s/.test(value)) throw invalid("has no usable access_token");
    if (typeof type !== "string" || type.toLowerCase() !== "bearer") throw invalid("is not a Bearer token");
    if (!Number.isInteger(expiresIn) || expiresIn <= 0) throw invalid("has no integer expires_in");
    // An absurd expires_in (the docs' Postman collection saved 18446744064486179580) is not believed.
    const lifetime = Math.min(expiresIn, this.maxLifetimeSeconds);
    const margin = Math.min(this.maxMarginSeconds, lifetime / 10);
    return { value, refreshAt: started + lifetime - margin };
  }

  send(method, path, body, token) {
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined && body !== null) headers["Content-Type"] = "application/json";
    return this.http(path, { method, headers, body: body == null ? undefined : JSON.stringify(body) });
  }

  /** fetch with a timeout on every request; network failures become ScalekitErrors without secrets. A redirect is
   * answered as it came, never followed: fetch follows a 307 with the same body, and the token request's body holds
   * the client secret. */
  async http(path, init) {
    try {
      return await fetch(this.baseUrl + path, { ...init, redirect: "manual",
                                                signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      const timedOut = error?.name === "TimeoutError" || error?.name === "AbortError";
      throw new ScalekitError(null, timedOut ? "timeout" : "transport",
                              `${timedOut ? "timed out" : "transport error"} on ${path.split("?")[0]}`);
    }
  }
}

async function readJson(response, strict = false) {
  let text;
  try {
    text = await response.text();
  } catch (error) {
    const timedOut = error?.name === "TimeoutError" || error?.name === "AbortError";
    throw new ScalekitError(null, timedOut ? "timeout" : "transport", "the response body was cut off");
  }
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    if (strict) throw new ScalekitError(null, "invalid_response", "token response is not JSON");
    return null; // an error page that is not JSON: the status says enough
  }
}

function errorMessage(response, body) {
  return String(body?.message ?? body?.error_description ?? body?.error ?? `HTTP ${response.status}`);
}

function retryDelayMs(response, attempt) {
  const retryAfter = response.headers.get("retry-after") ?? "";
  if (/^\d+$/.test(retryAfter)) return Math.min(Number(retryAfter), 30) * 1000;
  return Math.min(250 * 2 ** (attempt - 1), 5000) * (0.8 + Math.random() * 0.4);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// The driver: the protocol loop around the client
// ---------------------------------------------------------------------------------------------

// stdout carries protocol lines only: anything the client logs goes to stderr.
console.log = console.info = console.debug = console.error;

let clockOffset = 0; // what advance_time has added to the client's clock, in seconds
let client = null;

function newClient() {
  return new ScalekitClient({
    environmentUrl: process.env.SCALEKIT_ENVIRONMENT_URL,
    clientId: process.env.SCALEKIT_CLIENT_ID,
    clientSecret: process.env.SCALEKIT_CLIENT_SECRET,
    now: () => Date.now() / 1000 + clockOffset,
  });
}

/** One call through the client, as a result object: { ok, status, body } or { ok: false, error }. */
async function oneCall({ method, path, body }) {
  try {
    client ??= newClient();
    const { status, body: parsed } = await client.request(method, path, body);
    return { ok: true, status, body: parsed };
  } catch (error) {
    return { ok: false, error: protocolError(error) };
  }
}

function protocolError(error) {
  if (error instanceof ScalekitError) {
    const type = { 401: "unauthenticated", 403: "permission_denied" }[error.status]
      ?? (error.status === null ? error.kind : "http");
    return { status: error.status, type, message: error.message.slice(0, 500) };
  }
  return { status: null, type: "other", message: String(error?.message ?? error).slice(0, 500) };
}

const ops = {
  hello: async () => ({ ok: true, name: "example-node-client", version: "1.0",
                        capabilities: ["advance_time", "concurrent"] }),
  new_client: async () => { client = newClient(); return { ok: true }; },
  call: (request) => oneCall(request),
  call_concurrently: async (request) => {
    client ??= newClient(); // one shared client for all of them
    const calls = Array.from({ length: request.count }, () => oneCall(request));
    return { ok: true, results: await Promise.all(calls) };
  },
  advance_time: async ({ seconds }) => { clockOffset += Number(seconds); return { ok: true }; },
  shutdown: async () => ({ ok: true }),
};

function respond(response) {
  return new Promise((resolve) => process.stdout.write(`${JSON.stringify(response)}\n`, resolve));
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) { // one request at a time, answered in order
  if (!line.trim()) continue;
  const request = JSON.parse(line);
  const op = Object.hasOwn(ops, request.op) ? ops[request.op] : null;
  let result;
  try {
    result = op
      ? await op(request)
      : { ok: false, error: { status: null, type: "unsupported", message: `unknown op ${request.op}` } };
  } catch (error) { // e.g. new_client without the SCALEKIT_* variables: report it, never crash
    result = { ok: false, error: protocolError(error) };
  }
  await respond({ id: request.id, ...result });
  if (request.op === "shutdown") break;
}
process.exit(0);
