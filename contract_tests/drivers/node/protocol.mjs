// The driver protocol of docs/driver-protocol.md for Node drivers: the request loop and `advance_time`,
// shared by the shipped Node drivers (node-sdk/, node-openid-client/). It imports nothing but Node's own
// modules, so it loads from here whichever driver's node_modules holds the client.

import readline from "node:readline";

/** The `advance_time` op for a client that reads a faked Date (`clock`: a @sinonjs/fake-timers clock). */
export function advanceTime(clock) {
  return async ({ seconds }) => {
    const ms = Number(seconds) * 1000;
    if (!Number.isFinite(ms) || ms < 0) {
      return { ok: false, error: { status: null, type: "other", message: "seconds must be a number >= 0" } };
    }
    clock.tick(ms);
    return { ok: true };
  };
}

function respond(response) {
  return new Promise((resolve) => process.stdout.write(`${JSON.stringify(response)}\n`, resolve));
}

/**
 * Answer the requests on stdin in order, one at a time, with `ops[request.op]`; what an op throws is answered
 * as `protocolError(error)` (never a crash), an unknown op as `unsupported`. Ends the process after `shutdown`
 * or when stdin closes.
 */
export async function serve(ops, protocolError) {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let request;
    try {
      request = JSON.parse(line);
    } catch {
      console.error("driver: a request line that is not JSON was ignored");
      continue;
    }
    const op = Object.hasOwn(ops, request.op) ? ops[request.op] : null;
    let result;
    try {
      result = op
        ? await op(request)
        : { ok: false, error: { status: null, type: "unsupported", message: `unknown op ${request.op}` } };
    } catch (error) {
      result = { ok: false, error: protocolError(error) };
    }
    await respond({ id: request.id, ...result });
    if (request.op === "shutdown") break;
  }
  process.exit(0);
}
