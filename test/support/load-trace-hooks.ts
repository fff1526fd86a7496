// The resolve hook of load-trace.ts (on Node's loader thread).
import { appendFileSync } from "node:fs";

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string }> {
  const result = await next(specifier, context);
  if (process.env.LOAD_TRACE_FILE) appendFileSync(process.env.LOAD_TRACE_FILE, `${result.url}\n`);
  return result;
}
