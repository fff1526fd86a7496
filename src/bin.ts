#!/usr/bin/env node
// The `tslab-oauth` command; see src/cli.ts.
import { main } from "./cli.js";
import { LoginError } from "./errors.js";

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`tslab-oauth: ${error instanceof LoginError ? `${error.code}: ${error.message}` : (error as Error).message}\n`);
    process.exit(error instanceof LoginError ? 2 : 1);
  },
);
