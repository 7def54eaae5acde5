import { createPrivateKey, webcrypto } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { CLIENT_CERT_DEFAULT_DAYS, isLoopbackHost, type ClientCertificateInfo, type ClusterCaInfo } from "@omnigate/shared/tls";
import { x509 } from "@omnigate/server-kit/x509";
import { CliError } from "./admin-client.js";
import { formatDate } from "./format.js";
import type { CommandContext } from "./context.js";

/** `omnigate cluster …`: what a new node needs to join. */
export function registerClusterCommands(program: Command, context: (cmd: Command) => CommandContext): void {
  const cluster = program.command("cluster").description("the cluster's trust: its CA and how a node joins");
  cluster
    .command("ca")
    .description("print the cluster CA's fingerprint (what agents pin), its certificate, and the command that joins a GPU box")
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const ca = await ctx.client.call<ClusterCaInfo>("GET", "/api/cluster/ca");
      if (ctx.json) return ctx.printJson(ca);
      ctx.print(`fingerprint  ${ca.fingerprint}`);
      ctx.print(`expires      ${formatDate(Math.floor(ca.not_after / 1000))}`);
      ctx.print("");
      ctx.print("Join a GPU box (from a checkout of omnigate; its agent serves mutual TLS on every address):");
      ctx.print(`  npx -y pnpm@10 install && OMNIGATE_GATEWAY_URL=${joinUrl(ctx.client.url)} OMNIGATE_CA_FINGERPRINT=${ca.fingerprint} \\`);
      ctx.print("    OMNIGATE_NODE_TOKEN=<the node token> OMNIGATE_AGENT_HOST=0.0.0.0 npx -y pnpm@10 join");
      if (!ctx.client.url.startsWith("https:")) {
        ctx.print(`  (${ctx.client.url} serves plain HTTP: for agents on other boxes the gateway serves HTTPS — OMNIGATE_HOST beyond loopback, or OMNIGATE_TLS=on)`);
      }
      ctx.print("");
      ctx.print(ca.certificate.trimEnd());
    });
  cluster
    .command("cert <name>")
    .description("make a key here and get a client certificate for it from the cluster CA: what Prometheus presents to scrape agents that serve mutual TLS")
    .requiredOption("--out <dir>", "where to write <name>.key (mode 0600), <name>.crt and ca.crt")
    .option("--days <n>", `how long it lives (default ${CLIENT_CERT_DEFAULT_DAYS}; run again to renew)`)
    .action(async (name: string, opts: { out: string; days?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const days = opts.days === undefined ? undefined : Number(opts.days);
      if (days !== undefined && !Number.isInteger(days)) throw new CliError(`--days must be a whole number of days, not '${opts.days}'.`);
      const { keyPem, csrPem } = await keyAndCsr();
      const cert = await ctx.client.call<ClientCertificateInfo>("POST", "/api/cluster/client-certificates", { name, csr: csrPem, ...(days === undefined ? {} : { days }) });
      const dir = resolve(opts.out);
      await mkdir(dir, { recursive: true });
      const files = { key: join(dir, `${name}.key`), cert: join(dir, `${name}.crt`), ca: join(dir, "ca.crt") };
      await writeFile(files.key, keyPem, { mode: 0o600 });
      await writeFile(files.cert, cert.certificate);
      await writeFile(files.ca, cert.ca);
      if (ctx.json) return ctx.printJson({ ...files, serial: cert.serial, not_after: cert.not_after });
      ctx.print(`wrote ${files.key}, ${files.cert} and ${files.ca}; the certificate expires ${formatDate(Math.floor(cert.not_after / 1000))}`);
      ctx.print("");
      ctx.print("Prometheus, for agents' /metrics (with OMNIGATE_AGENT_METRICS_TOKEN set on the agents):");
      ctx.print("  scheme: https");
      ctx.print(`  tls_config: { ca_file: ${files.ca}, cert_file: ${files.cert}, key_file: ${files.key} }`);
      ctx.print("  authorization: { credentials: <the agents' metrics token> }");
    });
}

/**
 * A new EC P-256 key (PKCS#8 PEM) and a CSR signed by it; the key never leaves this machine. The
 * CSR's subject is not read: the gateway names the certificate after `name`.
 */
async function keyAndCsr(): Promise<{ keyPem: string; csrPem: string }> {
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: "CN=omnigate client", keys, signingAlgorithm: algorithm });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }).export({ type: "pkcs8", format: "pem" }) as string;
  return { keyPem, csrPem: csr.toString("pem") };
}

/** The gateway's address as another box would use it: https, and a placeholder for a loopback host. */
function joinUrl(url: string): string {
  const u = new URL(url);
  const host = isLoopbackHost(u.hostname) ? "<gateway host>" : u.host;
  return `https://${host}${isLoopbackHost(u.hostname) && u.port ? `:${u.port}` : ""}`;
}
