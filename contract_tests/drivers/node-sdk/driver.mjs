#!/usr/bin/env node
// Conformance driver for the official Scalekit Node SDK (@scalekit-sdk/node), used unmodified.
//
//   cd contract_tests/drivers/node-sdk && npm ci          (or: python -m contract_tests.drivers.install)
//   scalekit-conformance client --grpc --driver "node contract_tests/drivers/node-sdk/driver.mjs"
//
// The SDK calls the API over gRPC (connect-node, HTTP/2) and fetches its token from /oauth/token with
// axios; the suite's mock must serve its gRPC face (--grpc). This file is only the protocol loop of
// docs/driver-protocol.md around the SDK, used the way its README shows an application using it:
// one `new ScalekitClient(envUrl, clientId, clientSecret)`, then `client.organization.*` calls. Token
// fetching, caching, re-authentication and retries are all the SDK's own; the driver never retries
// or repairs a call.

import { createRequire } from "node:module";

import { ScalekitClient, ScalekitException, ScalekitServerException } from "@scalekit-sdk/node";
import FakeTimers from "@sinonjs/fake-timers";
import { advanceTime, serve } from "../node/protocol.mjs";

// stdout carries protocol lines only: anything the SDK (or its dependencies) logs goes to stderr.
console.log = console.info = console.debug = console.warn = console.error;

// The SDK is a CommonJS package: take protobuf's JSON conversion and the organization message schemas
// from the very copies it loads, so the messages it returns match them.
const sdkRequire = createRequire(createRequire(import.meta.url).resolve("@scalekit-sdk/node"));
const sdkPackage = sdkRequire("../package.json");
const { toJson } = sdkRequire("@bufbuild/protobuf");
const { ListOrganizationsResponseSchema, GetOrganizationResponseSchema } =
  sdkRequire("./pkg/grpc/scalekit/v1/organizations/organizations_pb.js");

// The client's clock. Only Date is faked: the SDK's retry backoff (setTimeout), axios' timeout and the
// HTTP/2 session keep running on real timers, so a faked timer can never freeze a call in flight.
// shouldAdvanceTime keeps the fake Date moving with real time between advance_time requests.
const clock = FakeTimers.install({ toFake: ["Date"], now: Date.now(), shouldAdvanceTime: true });

// gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html) the protocol treats specially.
const GRPC = { CANCELLED: 1, DEADLINE_EXCEEDED: 4, PERMISSION_DENIED: 7, UNAVAILABLE: 14, UNAUTHENTICATED: 16 };
const GRPC_HTTP = { 3: 400, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409, 11: 400, 12: 501, 13: 500,
                    14: 503, 15: 500, 16: 401, 2: 500 };
// Node's codes for a connection that failed or broke; connect-node surfaces them as UNAVAILABLE/INTERNAL.
const NETWORK_FAILURE = /\b(ECONNREFUSED|ECONNRESET|EPIPE|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ERR_HTTP2_[A-Z_]+|socket hang up)\b/;

const LIST = /^\/api\/v1\/organizations\/?$/;
const GET_ONE = /^\/api\/v1\/organizations\/([^/]+)$/;

let client = null;

function newClient() {
  const { SCALEKIT_ENVIRONMENT_URL: envUrl, SCALEKIT_CLIENT_ID: clientId,
          SCALEKIT_CLIENT_SECRET: clientSecret } = process.env;
  return new ScalekitClient(envUrl, clientId, clientSecret);
}

class Unsupported extends Error {}

/** The SDK call for a REST request: a function of the client resolving to the REST JSON body. */
function sdkCall(method, path) {
  const url = new URL(String(path), "http://driver.invalid");
  if (String(method).toUpperCase() !== "GET") throw new Unsupported(`${method} is not offered by this driver`);
  if (LIST.test(url.pathname)) {
    const options = {};
    const pageSize = url.searchParams.get("page_size");
    const pageToken = url.searchParams.get("page_token");
    if (pageSize !== null) options.pageSize = Number(pageSize);
    if (pageToken !== null) options.pageToken = pageToken;
    return async (sdk) => restJson(ListOrganizationsResponseSchema, await sdk.organization.listOrganization(options));
  }
  const one = GET_ONE.exec(url.pathname);
  if (one) {
    const id = decodeURIComponent(one[1]);
    return async (sdk) => restJson(GetOrganizationResponseSchema, await sdk.organization.getOrganization(id));
  }
  throw new Unsupported(`no SDK method for ${url.pathname}`);
}

/** A returned protobuf message in the REST API's JSON shape (snake_case field names). */
function restJson(schema, message) {
  return toJson(schema, message, { useProtoFieldName: true });
}

/** One call through the shared client: { ok, status, body } or { ok: false, error }. */
async function oneCall({ method, path }) {
  let call;
  try {
    call = sdkCall(method, path);
  } catch (error) {
    if (error instanceof Unsupported) return { ok: false, error: { status: null, type: "unsupported", message: error.message } };
    throw error;
  }
  try {
    client ??= newClient();
    return { ok: true, status: 200, body: await call(client) };
  } catch (error) {
    return { ok: false, error: protocolError(error) };
  }
}

const typeOfStatus = (status) => ({ 401: "unauthenticated", 403: "permission_denied" })[status] ?? "http";

/** What the SDK threw, as the protocol's error object. The message is the error's name, code and text. */
function protocolError(error) {
  const text = short(error);
  // The SDK's gRPC failures: ScalekitServerException subclasses carrying the gRPC code (a bare
  // ConnectError, should one escape, has the same `code`).
  const grpcCode = error instanceof ScalekitServerException ? error.grpcStatus
    : error?.name === "ConnectError" ? error.code : undefined;
  if (typeof grpcCode === "number") {
    if (grpcCode === GRPC.DEADLINE_EXCEEDED) return { status: null, type: "timeout", message: text };
    if (grpcCode === GRPC.CANCELLED) return { status: null, type: "other", message: text };
    if ((grpcCode === GRPC.UNAVAILABLE || grpcCode === 13) && NETWORK_FAILURE.test(String(error.message))) {
      return { status: null, type: "transport", message: text }; // no response was received
    }
    const status = GRPC_HTTP[grpcCode] ?? error.httpStatus ?? 500;
    return { status, type: typeOfStatus(status), message: text };
  }
  // The token endpoint's failures: the SDK lets axios' error through as it is.
  if (error?.isAxiosError) {
    const status = error.response?.status;
    if (typeof status === "number") return { status, type: typeOfStatus(status), message: text };
    const timedOut = ["ECONNABORTED", "ETIMEDOUT"].includes(error.code) || /timeout/i.test(String(error.message));
    return { status: null, type: timedOut ? "timeout" : "transport", message: text };
  }
  if (error instanceof ScalekitException && NETWORK_FAILURE.test(String(error.message))) {
    return { status: null, type: "transport", message: text };
  }
  return { status: null, type: "other", message: text };
}

function short(error) {
  const name = error?.name ?? typeof error;
  const codes = [error?.grpcStatus ?? error?.code, error?.response?.status].filter((c) => c !== undefined);
  const message = String(error?.message ?? error);
  return `${name}${codes.length ? ` (${codes.join(", ")})` : ""}: ${message}`.slice(0, 300);
}

const ops = {
  hello: async () => ({ ok: true, name: sdkPackage.name, version: sdkPackage.version,
                        capabilities: ["advance_time", "concurrent"] }),
  new_client: async () => { client = newClient(); return { ok: true }; },
  call: (request) => oneCall(request),
  call_concurrently: async (request) => {
    client ??= newClient(); // one shared client for all of them
    const calls = Array.from({ length: Number(request.count) }, () => oneCall(request));
    return { ok: true, results: await Promise.all(calls) };
  },
  advance_time: advanceTime(clock),
  shutdown: async () => ({ ok: true }),
};

await serve(ops, protocolError);
