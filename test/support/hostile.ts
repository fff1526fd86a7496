// Shared machinery of the hostile-input suite (issue #8): a per-case checker that counts what was
// tried and what went wrong. The servers, clients and browser the cases use are the common test
// helpers: fake-as.ts (a small replaceable authorization server), servers.ts (test servers, single
// requests, raw sockets), user-agent.ts (the scripted browser), capture.ts (output capture),
// leaks.ts (ports, handles, secrets), certificates.ts (a private certificate authority).
//
// Each case runs through hostileTest(): afterwards, everything the library printed (stdout and
// stderr), every error it threw (message, stack, cause chain) and every page it served are scanned
// for the secrets of the case (codes, verifiers, tokens issued by the servers); and nothing of the
// library may be left: no listening socket, no connection accepted by the listener, no pending
// timer created by src/ (tracked with async_hooks, unref'd ones included), no extra handle.
// Each test file prints one line `hostile-totals {json}` to stdout when it ends.
import assert from "node:assert/strict";
import { createHook } from "node:async_hooks";
import { pathToFileURL } from "node:url";
import { it } from "node:test";
import { forgetMetadata } from "../../src/protocol/metadata-memo.js";
import { LoginError, type LoginErrorCode } from "../../src/index.js";
import { captureOutput } from "./capture.js";
import { assertNoSecret, openHandles, visibleText } from "./leaks.js";

// ---------------------------------------------------------------------------------------------
// Totals

export interface Totals {
  /** Hostile inputs tried (requests, responses, files...), not test functions. */
  cases: number;
  /** A forged or malformed input that ended in a login, or a callback taken for genuine. */
  acceptedWrongly: number;
  /** A case that did not end within its bound. */
  hangs: number;
  /** A secret visible in output, errors or pages. */
  secretLeaks: number;
  /** A listening socket, connection, timer or handle left behind. */
  resourceLeaks: number;
  /** A token the server issued and login() returned, missing from the cache afterwards. */
  lostTokens: number;
}

export class Tally {
  readonly file: string;
  readonly totals: Totals = { cases: 0, acceptedWrongly: 0, hangs: 0, secretLeaks: 0, resourceLeaks: 0, lostTokens: 0 };

  constructor(file: string) {
    this.file = file;
  }

  /** The line collected for SECURITY.md: `hostile-totals {"file":...,"cases":...,"leaks":...}`. */
  print(): void {
    const t = this.totals;
    const line = { file: this.file, ...t, leaks: t.secretLeaks + t.resourceLeaks };
    process.stdout.write(`hostile-totals ${JSON.stringify(line)}\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// Resources created by the library, tracked from creation (async_hooks sees unref'd timers, which
// process.getActiveResourcesInfo() does not).

const SRC = new URL("../../src/", import.meta.url).href;
const SELF = import.meta.url;
interface Live {
  what: string;
  where: string;
}
const live = new Map<number, Live>();
const listenerServers = new Set<number>();

/** The first application frame (not Node's, not this file's) that created the resource. */
function creator(): string | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const stack = new Error().stack ?? "";
  Error.stackTraceLimit = limit;
  // Node's Date-header cache: one global timer of at most a second, whoever answered first.
  if (stack.includes("at utcDate ")) return undefined;
  for (const line of stack.split("\n").slice(1)) {
    // ES modules show file:// URLs, CommonJS ones (undici) plain paths.
    const where = /((?:file:\/\/)?\/[^\s()]+:\d+:\d+)\)?$/.exec(line)?.[1];
    if (!where) continue;
    const file = where.startsWith("file://") ? where : pathToFileURL(where).href;
    if (file.startsWith(SELF)) continue;
    return file;
  }
  return undefined;
}

createHook({
  init(asyncId, type, triggerAsyncId) {
    if (type === "Timeout" || type === "TCPSERVERWRAP") {
      const where = creator();
      if (!where?.startsWith(SRC)) return;
      live.set(asyncId, { what: type === "Timeout" ? "a timer" : "a listening socket", where });
      if (type === "TCPSERVERWRAP") listenerServers.add(asyncId);
    } else if (type === "TCPWRAP" && listenerServers.has(triggerAsyncId)) {
      live.set(asyncId, { what: "a connection accepted by the listener", where: "" });
    }
  },
  destroy(asyncId) {
    live.delete(asyncId);
    listenerServers.delete(asyncId);
  },
}).enable();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// One case

export interface CaseContext {
  /** Counts hostile inputs tried in this case (a case that never calls it counts as one). */
  tried(count?: number): void;
  /** Values that must never be visible (the servers of this file add what they issue). */
  secret(...values: (string | undefined | null)[]): void;
  /** Something the user can see (an error, a page): scanned for secrets at the end. */
  seen(value: unknown): void;
  /** Records a wrong acceptance and fails the case. */
  acceptedWrongly(what: string): never;
  /** Records a lost token and fails the case. */
  lostToken(what: string): never;
  /** What the library wrote to stdout and stderr so far in this case. */
  output(): string;
}

class HangError extends Error {}

export interface CaseOptions {
  /** The case must end within this bound (a hang otherwise). @default 15000 */
  hangMs?: number;
}

/** A node:test test run as a hostile case: output captured, secrets scanned, resources checked. */
export function hostileTest(tally: Tally, name: string, fn: (ctx: CaseContext) => Promise<void>, options: CaseOptions = {}): void {
  it(name, () => runCase(tally, fn, options));
}

export async function runCase(tally: Tally, fn: (ctx: CaseContext) => Promise<void>, options: CaseOptions = {}): Promise<void> {
  const hangMs = options.hangMs ?? 15_000;
  let tried = 0;
  const secrets = new Set<string>();
  const seen: string[] = [];
  let output = "";
  const ctx: CaseContext = {
    tried: (count = 1) => void (tried += count),
    secret: (...values) => {
      for (const value of values) if (value) secrets.add(value);
    },
    seen: (value) => void seen.push(typeof value === "string" ? value : visibleText(value)),
    acceptedWrongly: (what) => {
      tally.totals.acceptedWrongly++;
      throw new assert.AssertionError({ message: `accepted wrongly: ${what}` });
    },
    lostToken: (what) => {
      tally.totals.lostTokens++;
      throw new assert.AssertionError({ message: `lost token: ${what}` });
    },
    output: () => output,
  };

  // Each case discovers afresh (a server of an earlier case may have had the same port).
  forgetMetadata();
  const handlesBefore = await openHandles();
  const baseline = new Set(live.keys());
  let failure: unknown;
  let guard: NodeJS.Timeout | undefined;
  try {
    const hang = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new HangError(`the case did not end within ${hangMs / 1000} s`)), hangMs);
    });
    await captureOutput(
      () => Promise.race([fn(ctx), hang]),
      (text) => (output += text),
    );
  } catch (error) {
    failure = error;
    if (error instanceof HangError) tally.totals.hangs++;
  } finally {
    clearTimeout(guard);
  }
  tally.totals.cases += Math.max(tried, 1);

  // Secrets: in what was printed, thrown and shown.
  try {
    // The library's own errors (a test's assertion messages may quote what it sent).
    const thrown = failure instanceof LoginError ? visibleText(failure) : "";
    assertNoSecret([output, thrown, ...seen].join("\n"), [...secrets]);
  } catch (error) {
    tally.totals.secretLeaks++;
    failure ??= error;
  }

  // Resources: what the library created must be gone (connections and timers close within a
  // loop turn or two of the login's end; give them a generous second).
  const deadline = Date.now() + 1500;
  let leftover: Live[] = [];
  let handlesAfter = await openHandles();
  for (;;) {
    leftover = [...live].filter(([id]) => !baseline.has(id)).map(([, info]) => info);
    handlesAfter = await openHandles();
    const sameHandles = handlesAfter.servers <= handlesBefore.servers && handlesAfter.timers <= handlesBefore.timers;
    if ((leftover.length === 0 && sameHandles) || Date.now() > deadline) break;
    await sleep(20);
  }
  if (leftover.length > 0 || handlesAfter.servers > handlesBefore.servers || handlesAfter.timers > handlesBefore.timers) {
    tally.totals.resourceLeaks++;
    failure ??= new assert.AssertionError({
      message:
        `left behind: ${leftover.map((l) => `${l.what}${l.where ? ` from ${l.where}` : ""}`).join(", ") || "nothing of src/"}; ` +
        `handles before ${JSON.stringify(handlesBefore)}, after ${JSON.stringify(handlesAfter)}`,
    });
  }
  if (failure !== undefined) throw failure;
}

/** Awaits a login expected to fail with `code`; a success is counted as accepted wrongly. */
export async function expectLoginError(ctx: CaseContext, promise: Promise<unknown>, code: LoginErrorCode, what = `expected ${code}`): Promise<LoginError> {
  let error: unknown;
  try {
    await promise;
  } catch (caught) {
    error = caught;
  }
  if (error === undefined) ctx.acceptedWrongly(`login() succeeded (${what})`);
  ctx.seen(error);
  assert.ok(error instanceof LoginError, `not a LoginError: ${String(error)}`);
  assert.equal(error.code, code, `${what}: ${error.message}`);
  return error;
}

/** True when a message is bounded and has no control characters (safe in a cell or a terminal). */
export function isTidyMessage(message: string, max = 1500): boolean {
  return message.length <= max && !/[\u0000-\u001f\u007f-\u009f]/.test(message);
}
