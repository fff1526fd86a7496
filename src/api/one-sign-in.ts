import { untilAborted } from "../errors.js";
import type { CacheEntry, Warn } from "../store/cache.js";
import type { CallContext } from "./call.js";

/**
 * One browser sign-in for every caller that asks for the same one at the same time.
 *
 * - In this process (`Promise.all` of 20 logins, a `session()` and a `login()` in one cell): the
 *   first call signs in, the others wait for it and get the same token. Only one tab opens.
 * - Across processes (two notebooks "Run All" at once): the first one claims the sign-in with a
 *   lock file next to the cache (`sign-in-<key>.lock`, its pid, broken when that process is gone
 *   or its sign-in's time is up). Another process follows it. Its cell says a sign-in is under way
 *   elsewhere and shows a link of its own, without opening a browser. It uses what the other saves,
 *   or its own link if the person uses that first. If the other one ends without a sign-in, the
 *   cell says so and its own link still works.
 *
 * `run` signs in and saves; it gets the context to use (a follower's has no browser and its own
 * abort signal).
 */
export async function oneSignIn(ctx: CallContext, run: (ctx: CallContext) => Promise<CacheEntry>): Promise<CacheEntry> {
  const { signIn, reporter, config } = ctx;
  const underWay = signIn.underWay<CacheEntry>("sign-in");
  if (underWay) {
    reporter.progress("Waiting for the sign-in that another call in this kernel started (its cell shows the link)…");
    return untilAborted(underWay, config.signal, "while waiting for the sign-in under way");
  }
  return signIn.once(async () => {
    // No browser for a service account: nothing to share across processes.
    if (config.grant === "client_credentials") return run(ctx);
    const claim = await signIn.store.claimSignIn(signIn.key, config.timeoutMs + 10_000);
    if ("release" in claim) {
      try {
        return await run(ctx);
      } finally {
        claim.release();
      }
    }
    return follow(ctx, claim.holder, claim.held, run);
  }, "sign-in");
}

/** Another process is signing in with these options: use what it saves, or this cell's own link. */
async function follow(
  ctx: CallContext,
  holder: { pid: number; host: string; at: number },
  held: () => boolean,
  run: (ctx: CallContext) => Promise<CacheEntry>,
): Promise<CacheEntry> {
  const { signIn, reporter, config } = ctx;
  const warn: Warn = (message) => reporter.warn(message);
  const where = config.issuerId ?? config.resource?.host ?? config.tokenEndpoint?.origin ?? "the server";
  reporter.notice(
    `A sign-in to ${where} with these options is under way in another kernel (process ${holder.pid}, since ${new Date(holder.at).toLocaleTimeString()}): ` +
      "this cell uses it as soon as it is done, with no second browser tab. To sign in here instead, use this cell's own link.",
  );
  const own = new AbortController();
  const signal = config.signal ? AbortSignal.any([config.signal, own.signal]) : own.signal;
  const mine = run({ ...ctx, config: { ...ctx.config, openBrowser: false, signal } }).then(
    (entry) => ({ entry }),
    (error: unknown) => ({ error }),
  );
  let stop = false;
  // What the other process saves, or undefined once it lets go without saving anything.
  const theirs = (async (): Promise<CacheEntry | undefined> => {
    for (;;) {
      const still = held();
      const entry = signIn.store.read(signIn.key, warn);
      if (entry && entry.obtainedAt >= holder.at) return entry;
      if (!still || stop) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 200).unref());
    }
  })();
  const first = await Promise.race([mine.then((outcome) => ({ outcome })), theirs.then((entry) => ({ entry }))]);
  if ("entry" in first) {
    if (first.entry) {
      own.abort(new Error("the other kernel's sign-in was saved"));
      await mine;
      return first.entry;
    }
    reporter.notice("The sign-in in the other kernel ended without one: sign in with this cell's link.");
    const outcome = await mine;
    if ("error" in outcome) throw outcome.error;
    return outcome.entry;
  }
  const { outcome } = first;
  if ("entry" in outcome) {
    stop = true;
    return outcome.entry;
  }
  // This cell's own attempt failed (its port, its time): the other one may still sign in.
  if (config.signal?.aborted) {
    stop = true;
    throw outcome.error;
  }
  const entry = await theirs;
  if (entry) return entry;
  throw outcome.error;
}
