import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, brotliDecompressSync, gzipSync, gunzipSync } from "node:zlib";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { TestScope } from "@omnigate/testkit/scope";
import { startControlGateway } from "./control-harness.js";

// The dashboard's static files as the built gateway serves them, from a dist folder written here
// the way the dashboard build writes it (hashed assets, .br and .gz beside each file).

const scope = new TestScope();
afterEach(() => scope.cleanup());

const INDEX = '<!doctype html><html><head><script type="module" src="/assets/index-3f9a1c.js"></script></head><body><div id="root"></div></body></html>';
const SCRIPT = `console.log(${JSON.stringify("x".repeat(4000))});`;

function writeDist(dir: string): void {
  mkdirSync(join(dir, "assets"), { recursive: true });
  for (const [path, text] of [
    ["index.html", INDEX],
    ["assets/index-3f9a1c.js", SCRIPT],
  ] as const) {
    writeFileSync(join(dir, path), text);
    writeFileSync(join(dir, `${path}.br`), brotliCompressSync(text));
    writeFileSync(join(dir, `${path}.gz`), gzipSync(text));
  }
  writeFileSync(join(dir, "favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
}

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

describe("the dashboard's static files", () => {
  it("serves index.html with a CSP and no caching, hashed assets immutable, each precompressed", async () => {
    const dist = await scope.tempDir("omnigate-dist-");
    writeDist(dist);
    const gw = await startControlGateway(scope, { env: { OMNIGATE_DASHBOARD_DIR: dist, LOG_LEVEL: "warn" } });

    const page = await get(`${gw.url}/`, { "accept-encoding": "gzip, deflate, br" });
    expect(page.status).toBe(200);
    expect(page.headers["content-encoding"]).toBe("br");
    expect(page.headers["content-type"]).toMatch(/^text\/html; charset=utf-8$/i);
    expect(page.headers.vary).toContain("Accept-Encoding");
    expect(page.headers["cache-control"]).toBe("no-cache");
    const csp = String(page.headers["content-security-policy"]);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(brotliDecompressSync(page.body).toString()).toBe(INDEX);

    const script = await get(`${gw.url}/assets/index-3f9a1c.js`, { "accept-encoding": "gzip" });
    expect(script.headers["content-encoding"]).toBe("gzip");
    expect(script.headers["content-type"]).toMatch(/^(text|application)\/javascript/);
    expect(script.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(script.headers["x-content-type-options"]).toBe("nosniff");
    expect(gunzipSync(script.body).toString()).toBe(SCRIPT);

    const plain = await get(`${gw.url}/assets/index-3f9a1c.js`);
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.body.toString()).toBe(SCRIPT);
    const revalidated = await get(`${gw.url}/`, { "accept-encoding": "gzip, deflate, br", "if-none-match": String(page.headers.etag) });
    expect(revalidated.status).toBe(304);
    expect((await get(`${gw.url}/favicon.svg`)).headers["cache-control"]).toBe("no-cache");

    // The API keeps its own answers around the dashboard.
    const missing = await get(`${gw.url}/assets/nope.js`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body.toString()).error.code).toBe("not_found");
    expect((await get(`${gw.url}/v1/models`)).status).toBe(401);
    expect((await get(`${gw.url}/healthz`)).status).toBe(200);
  });

  it("says how to get a dashboard when none is built, and serves none when switched off", async () => {
    const empty = await scope.tempDir("omnigate-nodist-");
    const gw = await startControlGateway(scope, { env: { OMNIGATE_DASHBOARD_DIR: empty, LOG_LEVEL: "warn" } });
    const res = await get(`${gw.url}/`);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body.toString()).error.message).toContain("pnpm build");

    const off = await startControlGateway(scope, { env: { OMNIGATE_DASHBOARD_DIR: "off", LOG_LEVEL: "warn" } });
    expect(JSON.parse((await get(`${off.url}/`)).body.toString()).error.message).toContain("switched off");
    expect(off.lines.join("\n")).not.toContain("omnigate dashboard:");
    expect(gw.lines.join("\n")).toMatch(/omnigate dashboard: open http:\/\/127\.0\.0\.1:\d+\/ and sign in with the admin key in \/.*admin\.key/);
  });
});
