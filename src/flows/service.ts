import type { ServerMetadata } from "../protocol/metadata.js";
import { resolveMetadata } from "../protocol/discovery.js";
import { signingKey, type DpopJwk } from "../protocol/dpop.js";
import { clientCredentials, type TokenSet } from "../protocol/token.js";
import { flowTokenContext, type FlowContext } from "./context.js";

/**
 * A service account (RFC 6749 §4.4): no browser, no refresh token; the client signs in as itself
 * and a new token is simply asked for. A saved sign-in's DPoP key is kept (its tokens stay bound
 * to the same key).
 */
export async function runServiceAccount(flow: FlowContext, savedKey: DpopJwk | undefined): Promise<{ tokens: TokenSet; as: ServerMetadata }> {
  const { config, secrets } = flow;
  const as = await resolveMetadata(config);
  const dpop = await signingKey(config, as, savedKey);
  secrets.add(dpop?.jwk.d);
  const tokens = await clientCredentials(flowTokenContext({ ...flow, dpop }, as), config.scopes, config.extraParams);
  return { tokens, as };
}
