import { createHash, createPrivateKey, randomUUID, sign, webcrypto, type KeyObject } from "node:crypto";
import * as oauth from "oauth4webapi";
import { checkDpopSupport, type ServerMetadata } from "./metadata.js";

/**
 * DPoP (RFC 9449): a key pair held by the client, to which the server binds the tokens it issues,
 * so that a copied token is useless without the key. One key per saved sign-in, an ECDSA P-256
 * key (ES256, the one algorithm every DPoP server supports), kept with the sign-in in the
 * owner-only cache so a new kernel can refresh with it.
 *
 * Token requests get their proofs from oauth4webapi (the {@link DpopKey.handle}); requests to the
 * API (`session().fetch`, `session().headers(method, url)`) from {@link DpopKey.proof}, since
 * oauth4webapi signs those only while it sends the request itself. Those are signed with node:crypto
 * (synchronous: 31 µs a signature here, against 107 µs through WebCrypto's thread pool).
 */

/** The private key as kept in the cache (a JWK, RFC 7517). Never printed. */
export interface DpopJwk {
  kty: "EC";
  crv: "P-256";
  x: string;
  y: string;
  d: string;
}

type CryptoKeyPair = webcrypto.CryptoKeyPair;
const { subtle } = webcrypto;
/** NQCHAR = %x21 / %x23-5B / %x5D-7E (RFC 9449 §8.1). */
const NONCE = /^[\x21\x23-\x5B\x5D-\x7E]{1,1000}$/;
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;

export class DpopKey {
  /** The private key, to save with the sign-in. */
  readonly jwk: DpopJwk;
  /** For oauth4webapi's token and PAR requests (it also keeps the token endpoint's nonces). */
  readonly handle: oauth.DPoPHandle;
  /** RFC 7638 thumbprint of the public key: what the server records as the token's `cnf.jkt`. */
  readonly thumbprint: string;
  readonly #signingKey: KeyObject;
  readonly #header: string;
  /** The last nonce each API origin gave (RFC 9449 §9). */
  readonly #nonces = new Map<string, string>();

  constructor(jwk: DpopJwk, pair: CryptoKeyPair, client: oauth.Client) {
    this.jwk = jwk;
    this.#signingKey = createPrivateKey({ key: { ...jwk }, format: "jwk" });
    this.handle = oauth.DPoP(client, pair as Parameters<typeof oauth.DPoP>[1]);
    const publicJwk = { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
    // RFC 7638: the required members, in lexicographic order, without whitespace.
    this.thumbprint = createHash("sha256").update(JSON.stringify(publicJwk)).digest("base64url");
    this.#header = b64u(JSON.stringify({ typ: "dpop+jwt", alg: "ES256", jwk: publicJwk }));
  }

  /**
   * A proof for one request to a resource server (RFC 9449 §4.2, §7): `htm`, `htu` (the URL
   * without query or fragment), `iat`, a fresh `jti`, `ath` (the access token's hash) and the
   * origin's last nonce, if it gave one.
   */
  async proof(method: string, url: URL, accessToken: string): Promise<string> {
    const payload = {
      // 122 random bits from Node's buffered generator (randomBytes(16) cost 28 µs a call here).
      jti: randomUUID(),
      htm: method.toUpperCase(),
      htu: `${url.origin}${url.pathname}`,
      iat: Math.floor(Date.now() / 1000),
      ath: createHash("sha256").update(accessToken).digest("base64url"),
      nonce: this.#nonces.get(url.origin),
    };
    const input = `${this.#header}.${b64u(JSON.stringify(payload))}`;
    // JWS wants the raw r || s form (RFC 7518 §3.4), not DER.
    const signature = sign("sha256", Buffer.from(input), { key: this.#signingKey, dsaEncoding: "ieee-p1363" });
    return `${input}.${signature.toString("base64url")}`;
  }

  /**
   * Keeps the `DPoP-Nonce` an API response carries; true when there was one. A value that is not
   * a nonce (RFC 9449 §8.1: 1*NQCHAR; here at most 1000 of them) is ignored: it would go into
   * every later proof to that origin.
   */
  rememberNonce(url: URL, headers: { get(name: string): string | null }): boolean {
    const nonce = headers.get("dpop-nonce");
    if (!nonce || !NONCE.test(nonce)) return false;
    this.#nonces.set(url.origin, nonce);
    return true;
  }

  // util/inspect.ts's INSPECT, spelled out: sharing that one constant with this lazily loaded module
  // made the bundler split it into a chunk of its own, one more module on every import (~0.5 ms).
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `DpopKey { thumbprint: '${this.thumbprint}' }`;
  }

  toJSON(): { thumbprint: string } {
    return { thumbprint: this.thumbprint };
  }
}

function b64u(text: string): string {
  return Buffer.from(text).toString("base64url");
}

/** A new key for a new sign-in. */
export async function createDpopKey(client: oauth.Client): Promise<DpopKey> {
  const generated = (await subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
  const jwk = (await subtle.exportKey("jwk", generated.privateKey)) as unknown as DpopJwk;
  return importDpopKey({ kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, d: jwk.d }, client);
}

/** Imported keys, by their saved JWK: a session's requests import once. */
const imported = new Map<string, Promise<DpopKey>>();

/**
 * The saved key of a sign-in, imported for both signers: WebCrypto keys for oauth4webapi's handle
 * and a KeyObject for API proofs. The JWK itself stays on the DpopKey, to be saved again with
 * refreshed tokens; none of it is ever printed.
 */
export function importDpopKey(jwk: DpopJwk, client: oauth.Client): Promise<DpopKey> {
  // The whole saved key: a file edited to another public part must be imported (and refused) again.
  const id = [client.client_id, jwk.x, jwk.y, jwk.d].join("\u0000");
  let key = imported.get(id);
  if (!key) {
    key = (async () => {
      const publicJwk = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
      const [privateKey, publicKey] = await Promise.all([
        subtle.importKey("jwk", { ...publicJwk, d: jwk.d }, ALGORITHM, false, ["sign"]),
        subtle.importKey("jwk", publicJwk, ALGORITHM, true, ["verify"]),
      ]);
      return new DpopKey(jwk, { privateKey, publicKey }, client);
    })();
    key.catch(() => imported.delete(id));
    imported.set(id, key);
  }
  return key;
}

/**
 * With `dpop`, the key a sign-in's tokens will be bound to: the saved one, else a new one, once
 * the server is known to verify DPoP proofs (INVALID_CONFIG otherwise, before any request).
 */
export async function signingKey(config: { dpop: boolean; clientId: string }, as: ServerMetadata, saved: DpopJwk | undefined): Promise<DpopKey | undefined> {
  if (!config.dpop) return undefined;
  checkDpopSupport(as);
  const client = { client_id: config.clientId };
  return saved ? importDpopKey(saved, client) : createDpopKey(client);
}
