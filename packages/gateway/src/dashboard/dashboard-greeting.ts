import { resolve } from "node:path";
import type { ClusterCredentials } from "../auth/credentials.js";

/** What the greeting reads of the running gateway. */
export interface GreetedGateway {
  readonly url: string;
  readonly dashboardDir: string | undefined;
  readonly credentials: Pick<ClusterCredentials, "adminKey">;
}

/**
 * The line after "listening on": where to point a browser and which key signs in, by the file it
 * is in (never the key). A wildcard listen address is not one a browser can open: this machine's
 * name for itself is.
 */
export function dashboardGreeting(gateway: GreetedGateway): string[] {
  if (!gateway.dashboardDir) return [];
  const url = new URL(gateway.url);
  if (url.hostname === "0.0.0.0" || url.hostname === "[::]") url.hostname = "localhost";
  const key = gateway.credentials.adminKey;
  const where = key.file ? `the admin key in ${resolve(key.file)}` : "the admin key from OMNIGATE_ADMIN_KEY";
  return [`omnigate dashboard: open ${url.origin}/ and sign in with ${where}`];
}
