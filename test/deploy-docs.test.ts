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
const compose = parse(readFileSync(join(root, "docker-compose.yml"), "utf8")) as {
  services: Record<string, ComposeService>;
};
const readme = readFileSync(join(root, "README.md"), "utf8");

interface ComposeService {
  build?: { context: string; dockerfile: string };
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, unknown>;
  deploy?: { resources?: { reservations?: { devices?: Array<{ driver?: string; capabilities?: string[] }> } } };
}

/** A compose value with `${VAR:?msg}` / `${VAR:-default}` filled in as a user's shell would. */
function interpolate(value: string): string {
  return value.replace(/\$\{(\w+)(?::[?-]([^}]*))?\}/g, (_m, name: string) =>
    name === "OMNIGATE_ADMIN_KEY" || name === "OMNIGATE_NODE_TOKEN" ? "x".repeat(32) : "",
  );
}

function envOf(service: ComposeService): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));
}

describe("docker-compose.yml", () => {
  const { gateway, agent } = compose.services;

  it("has exactly a gateway and an agent, each built from a Dockerfile that exists", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["agent", "gateway"]);
    for (const service of [gateway!, agent!]) {
      expect(service.build).toBeDefined();
      expect(existsSync(join(root, service.build!.context, service.build!.dockerfile))).toBe(true);
    }
  });

  it("sets only variables the apps read, with values their schemas accept", () => {
    for (const [name, service, schema] of [
      ["gateway", gateway!, GatewayEnv],
      ["agent", agent!, AgentEnv],
    ] as const) {
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

  it("reserves a GPU for the agent", () => {
    const devices = agent!.deploy?.resources?.reservations?.devices ?? [];
    expect(devices.some((d) => d.driver === "nvidia" && d.capabilities?.includes("gpu"))).toBe(true);
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
