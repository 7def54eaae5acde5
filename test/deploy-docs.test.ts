// The suite cannot run docker compose (it needs a Docker engine and GPUs), so the compose file and
// the README's config table are checked against the config schemas the apps really read.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
// The apps' schemas as built (the root check builds before it tests).
import { AgentEnv } from "../packages/node-agent/dist/config.js";
import { GatewayEnv } from "../packages/gateway/dist/config.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// Merge keys (`<<: *gateway-ha`) as docker compose applies them.
const compose = parse(readFileSync(join(root, "docker-compose.yml"), "utf8"), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const readme = readFileSync(join(root, "README.md"), "utf8");

interface ComposeService {
  build?: { context: string; dockerfile: string };
  image?: string;
  profiles?: string[];
  volumes?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, unknown>;
  deploy?: { resources?: { reservations?: { devices?: Array<{ driver?: string; capabilities?: string[] }> } } };
}

/** A compose value with `${VAR:?msg}` / `${VAR:-default}` filled in as a user's shell would. */
function interpolate(value: string): string {
  return value.replace(/\$\{(\w+)(?::[?-]([^}]*))?\}/g, (_m, name: string) =>
    ["OMNIGATE_ADMIN_KEY", "OMNIGATE_NODE_TOKEN", "OMNIGATE_CLUSTER_SECRET", "OMNIGATE_DB_PASSWORD"].includes(name) ? "x".repeat(32) : "",
  );
}

function envOf(service: ComposeService): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));
}

describe("docker-compose.yml", () => {
  const { gateway, agent, postgres } = compose.services;
  const ha = { a: compose.services["gateway-a"]!, b: compose.services["gateway-b"]!, agent: compose.services["agent-ha"]! };
  const gateways: Array<[string, ComposeService]> = [
    ["gateway", gateway!],
    ["gateway-a", ha.a],
    ["gateway-b", ha.b],
  ];
  const agents: Array<[string, ComposeService]> = [
    ["agent", agent!],
    ["agent-ha", ha.agent],
  ];

  it("has a gateway and an agent by default, and PostgreSQL, two gateways and an agent in the ha profile, each built from a Dockerfile that exists", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["agent", "agent-ha", "gateway", "gateway-a", "gateway-b", "postgres"]);
    for (const [, service] of [...gateways, ...agents]) {
      expect(service.build).toBeDefined();
      expect(existsSync(join(root, service.build!.context, service.build!.dockerfile))).toBe(true);
    }
    expect(gateway!.profiles).toBeUndefined();
    expect(agent!.profiles).toBeUndefined();
    for (const s of [postgres!, ha.a, ha.b, ha.agent]) expect(s.profiles).toEqual(["ha"]);
    expect(postgres!.image).toMatch(/^postgres:\d+/);
  });

  it("sets only variables the apps read, with values their schemas accept", () => {
    for (const [name, service, schema] of [...gateways.map(([n, s]) => [n, s, GatewayEnv] as const), ...agents.map(([n, s]) => [n, s, AgentEnv] as const)]) {
      const env = envOf(service);
      const known = Object.keys(schema.shape);
      for (const key of Object.keys(env)) expect(known, `${name}: ${key}`).toContain(key);
      const parsed = schema.safeParse(env);
      expect(parsed.success, `${name}: ${parsed.success ? "" : JSON.stringify(parsed.error.issues)}`).toBe(true);
    }
  });

  it("publishes the gateway's port and points the agent at it with the same node token", () => {
    const g = envOf(gateway!);
    const a = envOf(agent!);
    expect(gateway!.ports).toContain(`${g.OMNIGATE_PORT}:${g.OMNIGATE_PORT}`);
    expect(a.OMNIGATE_GATEWAY_URL).toBe(`http://gateway:${g.OMNIGATE_PORT}`);
    expect(a.OMNIGATE_NODE_TOKEN).toBe(g.OMNIGATE_NODE_TOKEN);
    // Beyond loopback the agent serves HTTPS with mutual TLS: its advertised URL says so.
    expect(a.OMNIGATE_AGENT_URL).toBe(`https://agent:${a.OMNIGATE_AGENT_PORT}`);
    expect(agent!.depends_on).toHaveProperty("gateway");
  });

  it("ha: both gateways on the compose PostgreSQL with the same credentials and CA; the agent knows both", () => {
    const a = envOf(ha.a);
    const b = envOf(ha.b);
    const pgEnv = envOf(postgres!);
    expect(a.OMNIGATE_DATABASE_URL).toBe(`postgres://${pgEnv.POSTGRES_USER}:${pgEnv.POSTGRES_PASSWORD}@postgres:5432/${pgEnv.POSTGRES_DB}`);
    for (const key of ["OMNIGATE_DATABASE_URL", "OMNIGATE_ADMIN_KEY", "OMNIGATE_NODE_TOKEN", "OMNIGATE_CLUSTER_SECRET"]) expect(b[key], key).toBe(a[key]);
    // gateway-b reads the CA gateway-a made in its data dir.
    const aData = ha.a.volumes!.find((v) => v.endsWith(`:${a.OMNIGATE_DATA_DIR}`))!.split(":")[0];
    const mount = ha.b.volumes!.find((v) => v.startsWith(`${aData}:`))!;
    const caDir = mount.split(":")[1]!;
    expect(mount.endsWith(":ro")).toBe(true);
    expect(b.OMNIGATE_CLUSTER_CA_CERT_FILE).toBe(`${caDir}/cluster-ca.crt`);
    expect(b.OMNIGATE_CLUSTER_CA_KEY_FILE).toBe(`${caDir}/cluster-ca.key`);
    expect(ha.b.depends_on).toHaveProperty("gateway-a");
    for (const g of [ha.a, ha.b]) expect(g.depends_on).toHaveProperty("postgres");
    // Two ports on the host; the agent fails over between both gateways.
    expect(ha.a.ports).toEqual(["8080:8080"]);
    expect(ha.b.ports).toEqual(["8082:8080"]);
    const ag = envOf(ha.agent);
    expect(ag.OMNIGATE_GATEWAY_URL).toBe(`http://gateway-a:${a.OMNIGATE_PORT},http://gateway-b:${b.OMNIGATE_PORT}`);
    expect(ag.OMNIGATE_NODE_TOKEN).toBe(a.OMNIGATE_NODE_TOKEN);
  });

  it("reserves a GPU for each agent", () => {
    for (const [, service] of agents) {
      const devices = service.deploy?.resources?.reservations?.devices ?? [];
      expect(devices.some((d) => d.driver === "nvidia" && d.capabilities?.includes("gpu"))).toBe(true);
    }
  });
});

describe("README config table", () => {
  const rows = new Map(
    [...readme.matchAll(/^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|\s*([^|]*?)\s*\|\s*([^|]*?)\s*\|/gm)].map((m) => [m[1]!, m[2]!]),
  );
  const whys = new Map([...readme.matchAll(/^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|[^|]*\|\s*([^|]*?)\s*\|/gm)].map((m) => [m[1]!, m[2]!]));

  it("says what every variable is for", () => {
    for (const [key, why] of whys) expect(why.length, `README row ${key} has no description`).toBeGreaterThan(10);
  });

  it("lists every variable of both apps with its default", () => {
    for (const schema of [GatewayEnv, AgentEnv]) {
      const defaults = schema.parse({}) as Record<string, unknown>;
      for (const key of Object.keys(schema.shape)) {
        expect(rows.has(key), `README config table lacks ${key}`).toBe(true);
        const expected = defaults[key] === undefined ? "—" : `\`${String(defaults[key])}\``;
        expect(rows.get(key), `README default of ${key}`).toBe(expected);
      }
    }
  });

  it("lists no variable the apps do not read", () => {
    const known = new Set([...Object.keys(GatewayEnv.shape), ...Object.keys(AgentEnv.shape), ...extraDocumented]);
    for (const key of rows.keys()) expect(known, `README documents unknown ${key}`).toContain(key);
  });
});

/** Variables read outside the two apps' schemas: the CLI's and the test suites'. */
const extraDocumented = ["OMNIGATE_URL"];
