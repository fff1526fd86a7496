import type { DpopJwk } from "../protocol/dpop.js";
import type { ServerMetadata } from "../protocol/metadata.js";

/** One saved sign-in, with its secrets (as the code uses it). */
export interface CacheEntry {
  format: 1;
  /** What the entry is for, readable in the file. */
  issuer: string;
  clientId: string;
  scopes: string[];
  params: Record<string, string>;
  profile: string | undefined;
  accessToken: string;
  /** "DPoP": the tokens are bound to `dpopKey` and useless without it (RFC 9449). */
  tokenType: "Bearer" | "DPoP";
  /** The private key the tokens are bound to (a JWK), present exactly when `tokenType` is "DPoP". */
  dpopKey?: DpopJwk | undefined;
  /** Epoch ms, or undefined when the server gave no `expires_in`. */
  expiresAt: number | undefined;
  /** Epoch ms when the token response arrived. */
  obtainedAt: number;
  refreshToken: string | undefined;
  scope: string | undefined;
  sub: string | undefined;
  name: string | undefined;
  metadata: ServerMetadata;
  /** How the client had to send its secret, when the server refused the Basic header (refresh and revocation reuse it). */
  clientAuthMethod?: "client_secret_post" | undefined;
  /** The API the tokens are for (RFC 8707 resource indicator), when the sign-in named one. */
  resource?: string | undefined;
  /** Shared by sign-ins holding one refresh token (a second API's, RFC 8707 §2.2); `otherApis`: the server refused that. */
  grant?: string | undefined;
  otherApis?: "refused" | undefined;
  /** Where the secrets are written: "keychain" sealed by the secret store's key, else in the clear in this owner-only file. */
  secrets?: "keychain" | undefined;
}

/** The secrets of a saved sign-in: with `store: "keychain"` they are written only sealed (./sealed.ts). */
export type SecretField = "accessToken" | "refreshToken" | "dpopKey";

/** A saved sign-in as the file holds it with its secrets sealed by the folder's key in the secret store. */
export type SealedEntry = Omit<CacheEntry, SecretField | "secrets"> & {
  secrets: "keychain";
  sealed: string;
  /** Whether a refresh token is among the sealed secrets (for `status`: not a secret). */
  refreshable?: boolean | undefined;
};

/** What the file holds for a sign-in: with its secrets, or with them sealed. */
export type StoredEntry = CacheEntry | SealedEntry;

export function isSealedEntry(entry: StoredEntry): entry is SealedEntry {
  return "sealed" in entry && typeof entry.sealed === "string";
}

const isString = (v: unknown): v is string => typeof v === "string";
const isOptional = <T>(v: unknown, check: (v: unknown) => v is T): boolean => v === undefined || check(v);
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** A DPoP key as this library saves it (the shape only: importing it is the check that counts). */
function isDpopJwk(value: unknown): value is DpopJwk {
  const v = value as Record<string, unknown> | null;
  return typeof v === "object" && v !== null && v.kty === "EC" && v.crv === "P-256" && isString(v.x) && isString(v.y) && isString(v.d);
}

/** A stored sign-in of the expected shape (its secrets checked unless sealed), else undefined. */
export function parseEntry(value: unknown): StoredEntry | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const e = value as Record<string, unknown>;
  const metadata = e.metadata as Record<string, unknown> | undefined;
  const sealed = e.secrets === "keychain" && isString(e.sealed);
  const secretsOk = sealed
    ? e.accessToken === undefined &&
      e.refreshToken === undefined &&
      e.dpopKey === undefined &&
      (e.tokenType === "Bearer" || e.tokenType === "DPoP") &&
      (e.refreshable === undefined || typeof e.refreshable === "boolean")
    : e.secrets === undefined &&
      isString(e.accessToken) &&
      e.accessToken !== "" &&
      ((e.tokenType === "Bearer" && e.dpopKey === undefined) || (e.tokenType === "DPoP" && isDpopJwk(e.dpopKey))) &&
      isOptional(e.refreshToken, isString);
  const ok =
    e.format === 1 &&
    isString(e.issuer) &&
    isString(e.clientId) &&
    Array.isArray(e.scopes) &&
    secretsOk &&
    isOptional(e.expiresAt, isNumber) &&
    isNumber(e.obtainedAt) &&
    isOptional(e.scope, isString) &&
    isOptional(e.sub, isString) &&
    isOptional(e.name, isString) &&
    (e.clientAuthMethod === undefined || e.clientAuthMethod === "client_secret_post") &&
    isOptional(e.resource, isString) &&
    isOptional(e.grant, isString) &&
    (e.otherApis === undefined || e.otherApis === "refused") &&
    typeof metadata === "object" &&
    metadata !== null &&
    isString(metadata.issuer) &&
    isString(metadata.token_endpoint);
  return ok ? (value as StoredEntry) : undefined;
}
