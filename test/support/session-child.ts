// A separate Node process that opens a session() and calls the API once, the way a restarted
// kernel would: argv[2] is the JSON LoginConfig (without functions) plus `api`. A browser opening
// is a failure (the saved sign-in, or its refresh, had to do). It prints one JSON line: the API's
// status and answer, a hash of the access token (never the token), or the error code.
import { createHash } from "node:crypto";
import { session, LoginError, type LoginConfig } from "../../src/index.js";

const { api: url, ...config } = JSON.parse(process.argv[2]!) as LoginConfig & { api: string };
try {
  const api = await session({
    ...config,
    openBrowser: () => {
      throw new Error("a browser was needed");
    },
    timeout: 5,
  });
  const res = await api.fetch(url);
  const headers = await api.headers("GET", url);
  const token = headers.Authorization.slice(headers.Authorization.indexOf(" ") + 1);
  process.stdout.write(
    `${JSON.stringify({ status: res.status, body: await res.json(), token: createHash("sha256").update(token).digest("hex").slice(0, 16) })}\n`,
  );
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: error instanceof LoginError ? error.code : String(error), message: (error as Error).message })}\n`);
}
