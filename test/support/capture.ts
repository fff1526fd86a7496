// What the library prints while a test runs: the terminal reporter's notices and warnings on
// stderr, anything on stdout. One capture for every test (the hostile cases use it too).

export type Stream = "stdout" | "stderr";

export interface Captured<T> {
  value: T;
  /** Everything written to stdout while `fn` ran. */
  stdout: string;
  /** Everything written to stderr while `fn` ran. */
  stderr: string;
}

/**
 * Runs `fn` with process.stdout and process.stderr recorded: stdout still reaches the test runner,
 * stderr is kept quiet. `onWrite` sees each write as it happens (for a test that reads the output
 * while `fn` is still running). The streams are restored when `fn` settles, also when it throws.
 */
export async function captureOutput<T>(fn: () => Promise<T>, onWrite?: (text: string, stream: Stream) => void): Promise<Captured<T>> {
  const stdoutWrite = process.stdout.write;
  const stderrWrite = process.stderr.write;
  let stdout = "";
  let stderr = "";
  const text = (chunk: unknown): string =>
    typeof chunk === "string" ? chunk : Buffer.isBuffer(chunk) || chunk instanceof Uint8Array ? Buffer.from(chunk).toString("utf8") : String(chunk);
  process.stdout.write = function (chunk: unknown, ...rest: unknown[]) {
    const written = text(chunk);
    stdout += written;
    onWrite?.(written, "stdout");
    return (stdoutWrite as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
  } as typeof process.stdout.write;
  process.stderr.write = function (chunk: unknown, ...rest: unknown[]) {
    const written = text(chunk);
    stderr += written;
    onWrite?.(written, "stderr");
    const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
    callback?.();
    return true;
  } as typeof process.stderr.write;
  try {
    const value = await fn();
    return { value, stdout, stderr };
  } finally {
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
  }
}
