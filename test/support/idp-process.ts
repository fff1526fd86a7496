// The demo provider in a process of its own, so that it can have its own clock (the clock tests run
// it under libfaketime). argv[2]: the JSON DemoIdpOptions. Prints one JSON line, { issuer }, once it
// listens, with its pid; stops on SIGTERM.
import { startDemoIdp } from "../../demo/idp.js";

const idp = await startDemoIdp(JSON.parse(process.argv[2] ?? "{}") as Parameters<typeof startDemoIdp>[0]);
process.stdout.write(`${JSON.stringify({ issuer: idp.issuer, pid: process.pid })}\n`);
process.once("SIGTERM", () => void idp.close().then(() => process.exit(0)));
