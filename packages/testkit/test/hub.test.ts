import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../src/cluster.js";
import { bytes } from "../src/files.js";
import { TestScope } from "../src/scope.js";

/**
 * The local hub is a fixture other suites (and other processes) rely on: check it speaks the Hub
 * protocol as the agent's cache uses it, as a separate process driven over its /_admin endpoint.
 */
const HUB_MAIN = join(REPO_ROOT, "packages/testkit/hub/main.mjs");
const scope = new TestScope();
afterEach(() => scope.cleanup());

async function startHubProcess(spec: unknown, args: string[] = []): Promise<{ url: string; cdnUrl: string }> {
  const dir = await scope.tempDir();
  const specPath = join(dir, "spec.json");
  await writeFile(specPath, JSON.stringify(spec));
  const hub = scope.spawn(HUB_MAIN, { name: "hub", args: ["--spec", specPath, ...args] });
  const [line] = await hub.waitForLine(/^\{.*"url".*\}$/);
  return JSON.parse(line) as { url: string; cdnUrl: string };
}

const weights = bytes(50_000, 3);
const spec = {
  repos: {
    "org/m": {
      revisions: {
        main: { files: { "w.bin": { base64: weights.toString("base64") }, "a.txt": { text: "hello\n" }, "d/b.txt": { text: "b" } } },
      },
    },
  },
};

describe("the test hub as its own process", () => {
  it("serves real etags, commit headers, a CDN redirect, Range and a paginated tree", async () => {
    const { url, cdnUrl } = await startHubProcess(spec, ["--page-size", "2"]);
    const info = (await (await fetch(`${url}/api/models/org/m/revision/main`)).json()) as { sha: string; siblings: unknown[] };
    expect(info.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(info.siblings).toHaveLength(3);

    const page1 = await fetch(`${url}/api/models/org/m/tree/main?recursive=true`);
    expect(page1.headers.get("link")).toMatch(/^<http:\/\/127\.0\.0\.1:\d+\/api\/models\/org\/m\/tree\/main\?recursive=true&cursor=2>; rel="next"$/);

    const lfs = await fetch(`${url}/org/m/resolve/main/w.bin`, { method: "HEAD", redirect: "manual" });
    expect(lfs.status).toBe(302);
    expect(lfs.headers.get("x-linked-etag")).toBe(`"${createHash("sha256").update(weights).digest("hex")}"`);
    expect(lfs.headers.get("x-linked-size")).toBe(String(weights.length));
    expect(lfs.headers.get("x-repo-commit")).toBe(info.sha);
    const location = lfs.headers.get("location")!;
    expect(location.startsWith(`${cdnUrl}/`)).toBe(true);
    const ranged = await fetch(location, { headers: { range: "bytes=49990-" } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get("content-range")).toBe(`bytes 49990-49999/${weights.length}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(weights.subarray(49990))).toBe(true);
    expect((await fetch(location, { headers: { range: "bytes=50000-" } })).status).toBe(416);

    const plain = await fetch(`${url}/org/m/resolve/main/a.txt`, { method: "HEAD" });
    expect(plain.headers.get("etag")).toBe('W/"ce013625030ba8dba906f756967f9e9ca394464a"'); // git hash-object of "hello\n"

    const missing = await fetch(`${url}/org/m/resolve/main/nope.txt`, { method: "HEAD" });
    expect([missing.status, missing.headers.get("x-error-code")]).toEqual([404, "EntryNotFound"]);
  });

  it("takes fault knobs over /_admin/rules and logs requests at /_admin/log", async () => {
    const { url } = await startHubProcess(spec);
    const post = (path: string, body: unknown) => fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    await post("/_admin/rules", [{ stage: "revision", status: 503, times: 1 }, { stage: "bytes", path: "w.bin", dropAfter: 20_000, times: 1 }]);
    const revision = `${url}/api/models/org/m/revision/main`;
    expect((await fetch(revision)).status).toBe(503);
    expect((await fetch(revision)).status).toBe(200);
    // The first download is cut after 20,000 bytes; the resumed one gets the rest.
    const file = `${url}/org/m/resolve/main/w.bin`;
    await expect(fetch(file).then((r) => r.arrayBuffer())).rejects.toThrow();
    const rest = await fetch(file, { headers: { range: "bytes=20000-" } });
    expect(rest.status).toBe(206);
    expect(Buffer.from(await rest.arrayBuffer()).equals(weights.subarray(20_000))).toBe(true);
    const log = (await (await fetch(`${url}/_admin/log`)).json()) as Array<{ stage: string; status: number; range: string | null; server: string }>;
    expect(log.filter((e) => e.stage === "revision").map((e) => e.status)).toEqual([503, 200]);
    expect(log.filter((e) => e.server === "cdn").map((e) => e.range)).toEqual([null, "bytes=20000-"]);

    await fetch(`${url}/_admin/log`, { method: "DELETE" });
    await post("/_admin/rules", { stage: "revision", status: 401, errorCode: "GatedRepo" });
    const gated = await fetch(revision);
    expect([gated.status, gated.headers.get("x-error-code")]).toEqual([401, "GatedRepo"]);
    await fetch(`${url}/_admin/rules`, { method: "DELETE" });
    expect((await fetch(revision)).status).toBe(200);
  });

  it("caps each connection's rate, counts what it serves, and expires its signed URLs over /_admin/limits", async () => {
    const { url } = await startHubProcess(spec, ["--connection-rate", "100000"]);
    const head = async () => (await fetch(`${url}/org/m/resolve/main/w.bin`, { method: "HEAD", redirect: "manual" })).headers.get("location")!;
    const location = await head();
    // 50 kB at 100 kB/s per connection: two connections take as long as one, not half as long each.
    const t0 = performance.now();
    const [a, b] = await Promise.all([
      fetch(location, { headers: { range: "bytes=0-24999" } }).then((r) => r.arrayBuffer()),
      fetch(location, { headers: { range: "bytes=25000-49999" } }).then((r) => r.arrayBuffer()),
    ]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(240); // 25 kB at 100 kB/s, each: never faster
    expect(Buffer.concat([Buffer.from(a), Buffer.from(b)]).equals(weights)).toBe(true);
    const served = (await (await fetch(`${url}/_admin/served?path=w.bin`)).json()) as { requests: number; bytes: number; peakConcurrent: number };
    expect(served).toEqual({ requests: 2, bytes: weights.length, peakConcurrent: 2 });

    const post = (path: string, body: unknown) => fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(await (await post("/_admin/limits", { connectionBytesPerSec: 0, urlTtlMs: 200 })).json()).toEqual({ connectionBytesPerSec: 0, urlTtlMs: 200 });
    const signed = await head();
    expect(signed).toMatch(/[?&]Expires=\d+&/);
    expect((await fetch(signed)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 250));
    const expired = await fetch(signed);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain("Request has expired");
    expect((await fetch(await head())).status).toBe(200); // a fresh HEAD, a fresh URL
  });

  it("knobs for one chunk of a parallel download: covers, etag", async () => {
    const { url } = await startHubProcess(spec);
    const post = (path: string, body: unknown) => fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    await post("/_admin/rules", { stage: "bytes", path: "w.bin", covers: 30_000, etag: '"replaced"', times: 1 });
    const location = (await fetch(`${url}/org/m/resolve/main/w.bin`, { method: "HEAD", redirect: "manual" })).headers.get("location")!;
    const etagOf = async (range: string) => (await fetch(location, { headers: { range } })).headers.get("etag");
    const original = `"${createHash("sha256").update(weights).digest("hex")}"`;
    expect(await etagOf("bytes=0-9999")).toBe(original); // does not hold 30 000: the rule waits
    expect(await etagOf("bytes=20000-39999")).toBe('"replaced"');
    expect(await etagOf("bytes=20000-39999")).toBe(original); // spent
  });
});
