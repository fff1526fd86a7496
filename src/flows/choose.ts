import { resolveMetadata } from "../protocol/discovery.js";
import { signingKey } from "../protocol/dpop.js";
import { proxyFor } from "../protocol/proxy-route.js";
import type { ServerMetadata } from "../protocol/metadata.js";
import type { TokenSet } from "../protocol/token.js";
import { inNotebook } from "../notebook/create.js";
import { remoteReason } from "./detect.js";
import { runDeviceLogin } from "./device.js";
import type { FlowContext } from "./context.js";
import { runLoopbackLogin } from "./loopback/flow.js";
import { runPromptedLogin } from "./paste.js";

/**
 * The browser sign-in, by the flow the options ask for, or (`auto`) the one that can work where
 * the kernel runs. The cell says which, why, and how to force the other.
 */
export async function signInInteractively(flow: FlowContext): Promise<{ tokens: TokenSet; as: ServerMetadata }> {
  const { config, reporter } = flow;
  const as = await resolveMetadata(config);
  const ctx: FlowContext = { ...flow, dpop: await signingKey(config, as, undefined) };
  flow.secrets.add(ctx.dpop?.jwk.d);
  const proxy = proxyFor(new URL(as.token_endpoint!), config.proxy);
  if (proxy) reporter.event(`requests to ${new URL(as.token_endpoint!).host} go through the proxy ${proxy.label} (${proxy.source})`);
  if (config.flow === "device") return { tokens: await runDeviceLogin(ctx, as), as };
  if (config.flow === "manual") return { tokens: await runPromptedLogin(ctx, as), as };
  if (config.flow === "auto") {
    // Outside a notebook there is no kernel to speak of.
    const remote = remoteReason(process.env, process.platform, undefined, inNotebook() ? "the kernel" : "this program");
    if (remote && as.device_authorization_endpoint) {
      reporter.notice(
        `Using the device flow because ${remote}: a redirect to this machine could not reach it. To force the redirect, pass \`flow: "loopback"\`.`,
      );
      return { tokens: await runDeviceLogin(ctx, as), as };
    }
    if (remote) {
      reporter.event(
        `${remote[0]!.toUpperCase()}${remote.slice(1)}, and the server offers no device flow: if your browser cannot reach this machine, the sign-in will not come back here. Then interrupt this cell and use beginLogin() (two cells).`,
      );
    }
  }
  return { tokens: await runLoopbackLogin(ctx, as), as };
}
