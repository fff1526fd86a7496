import type { Response as UndiciResponse } from "undici";

/** Metadata, token and revocation responses are a few kilobytes; anything past this is refused unread. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/** A response body larger than {@link MAX_RESPONSE_BYTES}: the rest was not read. */
export class ResponseTooLargeError extends Error {
  readonly code = "RESPONSE_TOO_LARGE";
  constructor(url: string) {
    super(`the response from ${url} is larger than ${MAX_RESPONSE_BYTES / 1024 / 1024} MiB; the rest was not read`);
    this.name = "ResponseTooLargeError";
  }
}

/**
 * The same response, with a body that errors with {@link ResponseTooLargeError} past the limit
 * (and the connection dropped), and `settle` called once the body is read, failed or cancelled.
 */
export function bounded(response: UndiciResponse, url: string, settle: () => void, UndiciResponseClass: typeof import("undici").Response): UndiciResponse {
  const body = response.body;
  if (!body) {
    settle();
    return response;
  }
  const declared = Number(response.headers.get("content-length") ?? "");
  if (declared > MAX_RESPONSE_BYTES) {
    settle();
    void body.cancel().catch(() => {});
    throw new ResponseTooLargeError(url);
  }
  const reader = body.getReader();
  let received = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            settle();
            controller.close();
            return;
          }
          received += value.byteLength;
          if (received > MAX_RESPONSE_BYTES) {
            const error = new ResponseTooLargeError(url);
            settle();
            controller.error(error);
            await reader.cancel(error).catch(() => {});
            return;
          }
          controller.enqueue(value);
        } catch (error) {
          settle();
          controller.error(error);
        }
      },
      async cancel(reason) {
        settle();
        await reader.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
  const nullBody = [101, 204, 205, 304].includes(response.status);
  let copy: UndiciResponse;
  try {
    copy = new UndiciResponseClass(nullBody ? null : (stream as ConstructorParameters<typeof import("undici").Response>[0]), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  } catch (error) {
    // A status the Response class refuses (outside 200-599): nothing usable came back.
    void stream.cancel(error).catch(() => {});
    throw error;
  }
  if (nullBody) void stream.cancel().catch(() => {});
  Object.defineProperty(copy, "url", { value: response.url });
  return copy;
}

/** Drops a response body nobody will read (frees the connection and the request's timer). */
export async function discard(response: Response | undefined): Promise<void> {
  try {
    await response?.body?.cancel();
  } catch {
    // already read, or being read
  }
}
