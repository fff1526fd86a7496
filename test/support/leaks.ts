// What a test checks the library did not leave behind or let out: the listener's port freed,
// no extra listening server or pending timer, no secret in anything a user could see.
import { createServer } from "node:net";
import { inspect } from "node:util";

/** Resolves true when nothing listens on host:port any more (we can bind it ourselves). */
export function portIsFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Listening servers and pending timers of this process (what a leak would add). A closed server's
 * handle leaves the list one loop turn after its close callback, so let the loop turn first.
 */
export async function openHandles(): Promise<{ servers: number; timers: number }> {
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  const info = process.getActiveResourcesInfo();
  return { servers: info.filter((r) => r === "TCPServerWrap").length, timers: info.filter((r) => r === "Timeout").length };
}

/** Everything a user could see of a value: inspect output, JSON, message, stack, causes. */
export function visibleText(value: unknown): string {
  const parts = [inspect(value, { depth: 10, showHidden: true, getters: true })];
  try {
    parts.push(JSON.stringify(value) ?? "");
  } catch {
    // circular
  }
  for (let e = value as { message?: unknown; stack?: unknown; cause?: unknown } | undefined, i = 0; e && i < 10; e = e.cause as typeof e, i++) {
    parts.push(String(e.message ?? ""), String(e.stack ?? ""), String(e));
  }
  return parts.join("\n");
}

export function assertNoSecret(text: string, secrets: (string | undefined)[]): void {
  for (const secret of secrets) {
    if (secret && secret.length >= 8 && text.includes(secret)) {
      throw new Error(`a secret (${secret.slice(0, 4)}…, ${secret.length} chars) is visible`);
    }
  }
}
