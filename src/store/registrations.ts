import { readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { isSymlink, ownerJsonFile, tightenFileMode, type JsonFile } from "./files.js";
import type { Warn } from "./cache.js";

/**
 * Clients this machine registered itself (RFC 7591), one per authorization server, kept owner-only
 * next to the saved sign-ins (`clients.json`) so that every later call and process reuses it
 * instead of registering again. A `clientSecret` the server assigned is a secret like a token.
 */
export interface Registration {
  /** The authorization server's issuer. */
  issuer: string;
  clientId: string;
  clientSecret?: string | undefined;
  /** Epoch ms the secret expires (`client_secret_expires_at`), when it does. */
  secretExpiresAt?: number | undefined;
  /** How the secret is sent, when the server assigned one and said. */
  tokenEndpointAuthMethod?: "client_secret_basic" | "client_secret_post" | undefined;
  /** Epoch ms of the registration. */
  registeredAt: number;
  redirectUris: string[];
}

const FILE = "clients.json";

/** The registrations file of a folder. Reads need nothing but the file; writes happen under the cache's lock. */
export class RegistrationFile {
  readonly path: string;
  readonly #dir: string;
  #writer: JsonFile<Record<string, Registration>> | undefined;

  constructor(dir: string) {
    this.#dir = dir;
    this.path = join(dir, FILE);
  }

  /** Every well-formed registration; a missing file is none, an unreadable one a warning and none. */
  all(warn: Warn): Registration[] {
    let text: string;
    try {
      tightenFileMode(this.path);
      text = readFileSync(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT")
        warn(`Could not read ${this.path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); registering anew.`);
      return [];
    }
    try {
      const data = JSON.parse(text) as unknown;
      return data !== null && typeof data === "object" ? Object.values(data as Record<string, unknown>).filter(isRegistration) : [];
    } catch {
      warn(`${this.path} is not valid JSON: its clients are ignored, and a new one is registered (the file is rewritten).`);
      return [];
    }
  }

  find(issuer: string, warn: Warn): Registration | undefined {
    return this.all(warn).find((registration) => registration.issuer === issuer);
  }

  /** Saves (or with undefined, forgets) the client registered at `issuer`. Never throws: false after warning. The caller holds the lock. */
  write(issuer: string, registration: Registration | undefined, warn: Warn): boolean {
    try {
      if (isSymlink(this.path)) throw new Error("it is a symbolic link, and it is never written through a link: replace it with a plain file");
      try {
        this.#save(issuer, registration);
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        // conf reads the file before writing it back: a damaged one is moved aside (kept), then written anew.
        const aside = `${this.path}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`;
        renameSync(this.path, aside);
        warn(`${this.path} was not valid JSON; it was moved to ${aside} and a new one started.`);
        this.#save(issuer, registration);
      }
      return true;
    } catch (error) {
      warn(
        `Could not save the registered client to ${this.path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); the next sign-in registers again.`,
      );
      return false;
    }
  }

  #save(issuer: string, registration: Registration | undefined): void {
    this.#writer ??= ownerJsonFile<Record<string, Registration>>(this.#dir, FILE.replace(/\.json$/, ""));
    if (registration) this.#writer.set(issuer, registration);
    else this.#writer.delete(issuer);
  }
}

function isRegistration(value: unknown): value is Registration {
  const v = value as Record<string, unknown> | null;
  return (
    typeof v === "object" &&
    v !== null &&
    typeof v.issuer === "string" &&
    typeof v.clientId === "string" &&
    v.clientId !== "" &&
    (v.clientSecret === undefined || typeof v.clientSecret === "string") &&
    (v.secretExpiresAt === undefined || typeof v.secretExpiresAt === "number") &&
    typeof v.registeredAt === "number" &&
    Array.isArray(v.redirectUris)
  );
}
