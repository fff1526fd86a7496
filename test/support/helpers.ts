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

/** Runs `fn` with process.stderr captured (the terminal reporter's notices and warnings). */
export async function captureStderr<T>(fn: () => Promise<T>): Promise<{ value: T; stderr: string }> {
  const original = process.stderr.write.bind(process.stderr);
  let stderr = "";
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    return { value: await fn(), stderr };
  } finally {
    process.stderr.write = original;
  }
}
