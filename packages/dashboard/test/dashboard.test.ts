// The dashboard in a real browser (Debian's Chromium through playwright-core) against the built
// gateway serving it, a built agent with stand-in engines and two stand-in GPUs, and the local hub.
// Each test signs in as a user would and drives the page by its labels and roles.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent } from "@omnigate/testkit/cluster";
import { MODELS, toneWav } from "@omnigate/testkit/e2e-stack";
import { standInEngineEnv } from "@omnigate/testkit/stand-ins";
import { TestScope } from "@omnigate/testkit/scope";
import { waitFor } from "@omnigate/testkit/wait";
import { DESKTOP, PHONE, accessibilityViolations, hasChromium, launchBrowser, newPage, screenshot, signIn, type ConsoleWatch } from "./browser.js";
import { SLOW_REPO, startDashboardStack, type DashboardStack } from "./stack.js";

const scope = new TestScope();
let stack: DashboardStack;
let browser: Browser;
let page: Page;
let watch: ConsoleWatch;

describe.skipIf(!hasChromium)("the dashboard in Chromium", () => {
  beforeAll(async () => {
    stack = await startDashboardStack(scope, ["llm", "asr", "tts", "img"]);
    browser = await launchBrowser();
    ({ page, console: watch } = await newPage(browser));
  });

  afterAll(async () => {
    await browser?.close();
    await scope.cleanup();
  });

  it("a wrong key says so; the admin key signs in and the Overview shows the fleet", async () => {
    await page.goto(`${stack.gateway.url}/`);
    await expect.poll(() => page.title()).toBe("omnigate");
    const key = page.getByLabel("Admin key");
    await key.fill("og-admin-not-the-key-at-all");
    await page.keyboard.press("Enter");
    await page.getByRole("alert").filter({ hasText: "That key is not valid" }).waitFor();
    await expect(key.getAttribute("aria-invalid")).resolves.toBe("true");
    await screenshot(page, "sign-in-wrong-key");

    const client = await stack.api.createKey("not-admin");
    await key.fill(client.key);
    await page.keyboard.press("Enter");
    await page.getByRole("alert").filter({ hasText: "client API key" }).waitFor();

    await signIn(page, stack.gateway.url, stack.gateway.adminKey);
    const stats = page.getByRole("region", { name: "Fleet and traffic" });
    await stats.getByText("1 / 1").first().waitFor();
    expect(await stats.innerText()).toMatch(/Nodes online\s+1 \/ 1/);
    expect(await stats.innerText()).toMatch(/Models ready\s+4 \/ 4/);
    await page.getByRole("status").filter({ hasText: "live" }).waitFor();
    // Nothing of the key reaches storage other than this tab's session.
    expect(await page.evaluate(() => ({ cookies: document.cookie, local: localStorage.length }))).toEqual({ cookies: "", local: 0 });
    await screenshot(page, "overview-at-sign-in");
    expect(watch.take([401, 403])).toEqual([]);
  });

  it("Nodes: the node with its GPUs, labels, runtimes and models", async () => {
    await page.getByRole("link", { name: "Nodes" }).click();
    const card = page.getByRole("article", { name: new RegExp(stack.agent.runtimeId.slice(0, 8)) });
    await card.waitFor();
    await card.getByText("online", { exact: true }).waitFor();
    await expect(card.getByRole("progressbar", { name: "GPU 0 memory used" }).getAttribute("max")).resolves.toBe("81920");
    await card.getByText(/GPU 1 NVIDIA A100-SXM4-80GB: 40\.0 GiB used of 80\.0 GiB/).waitFor();
    await card.getByText("zone=eu-west").waitFor();
    const models = card.getByRole("region", { name: "Models" });
    for (const name of ["llm", "asr", "tts", "img"]) await models.getByText(name, { exact: true }).waitFor();
    expect(await card.innerText()).toMatch(/Runtimes: .*llama_cpp/);
    await screenshot(page, "nodes");
    expect(watch.take()).toEqual([]);
  });

  it("Models: the API's message shows at the field; a model registered through the form downloads with a live progress bar until ready", async () => {
    await page.getByRole("link", { name: "Models" }).click();
    await page.getByRole("button", { name: "Register a model" }).click();
    const repo = page.getByLabel("Hugging Face repo");
    await repo.fill("no-org-here");
    await page.getByRole("button", { name: "Register", exact: true }).click();
    await expect.poll(() => repo.getAttribute("aria-invalid")).toBe("true");
    const describedBy = (await repo.getAttribute("aria-describedby"))!.split(" ")[0]!;
    expect(await page.locator(`[id="${describedBy}"]`).innerText()).toMatch(/repo/i);

    // The hub sends the new model's weights at 1 MB/s: several seconds of progress to watch.
    stack.hub.addRule({ stage: "bytes", repo: SLOW_REPO.repo, bytesPerSec: 1_000_000 });
    await repo.fill(SLOW_REPO.repo);
    await page.getByLabel("Name (optional)").fill("whisper-big");
    await page.getByLabel("Files (optional)").fill(SLOW_REPO.file);
    await page.getByRole("button", { name: "Register", exact: true }).click();
    await page.getByRole("status").filter({ hasText: "Registered whisper-big" }).waitFor();
    expect(await repo.getAttribute("aria-invalid")).toBeNull();

    const card = page.getByRole("article", { name: "whisper-big" });
    const bar = card.getByRole("progressbar", { name: /whisper-big download/ });
    await bar.waitFor({ timeout: 20_000 });
    const seen = new Set<string>();
    await waitFor(
      async () => {
        const value = await bar.getAttribute("value").catch(() => null);
        if (value !== null) seen.add(value);
        return seen.size >= 2;
      },
      { what: "the progress bar to move", timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(await card.innerText()).toMatch(/of 3\.0 MB · .*\/s · .* left/);
    await screenshot(page, "models-downloading");
    await card.getByText("ready", { exact: true }).first().waitFor({ timeout: 30_000 });
    expect(Math.max(...[...seen].map(Number))).toBeLessThanOrEqual(SLOW_REPO.bytes);
    await screenshot(page, "models");
    expect(watch.take([400])).toEqual([]);
  });

  it("Models: delete asks first; Cancel keeps the model, Delete removes it everywhere", async () => {
    const card = page.getByRole("article", { name: "whisper-big" });
    await card.getByRole("button", { name: "Delete whisper-big" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete whisper-big?" });
    await dialog.waitFor();
    // The safe choice has the focus; Escape cancels.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Cancel");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    expect(await stack.api.model("whisper-big")).toBeDefined();
    await card.getByRole("button", { name: "Delete whisper-big" }).click();
    await dialog.getByRole("button", { name: "Delete" }).click();
    await card.waitFor({ state: "detached" });
    expect(await stack.api.model("whisper-big")).toBeUndefined();
    expect(watch.take()).toEqual([]);
  });

  it("Playground: chat streams the answer in pieces as they arrive, and Stop ends a stream", async () => {
    await page.getByRole("link", { name: "Playground" }).click();
    await expect.poll(() => page.getByLabel("Model").inputValue()).toBe("llm");
    await page.getByLabel("Message").fill("Tell me about gateways");
    await page.keyboard.press("Enter");
    const answer = page.getByTestId("assistant-text").last();
    // The stand-in sends 8 pieces 150 ms apart: the text must be seen growing, not appear at once.
    const lengths = new Set<number>();
    await waitFor(
      async () => {
        const text = (await answer.innerText()).replace(/…$/, "");
        lengths.add(text.length);
        return (await page.getByRole("button", { name: "Stop" }).isDisabled()) && lengths.size >= 1 ? text : undefined;
      },
      { what: "the streamed answer", timeoutMs: 20_000, intervalMs: 40 },
    );
    expect([...lengths].filter((n) => n > 0).length).toBeGreaterThanOrEqual(3);
    expect((await answer.innerText()).length).toBeGreaterThan(0);
    await screenshot(page, "playground-chat");

    await page.getByLabel("Message").fill("Another question");
    await page.getByRole("button", { name: "Send" }).click();
    await waitFor(async () => (await answer.innerText()).replace(/…$/, "").length > 0, { what: "the first piece" });
    await page.getByRole("button", { name: "Stop" }).click();
    await expect.poll(() => page.getByRole("button", { name: "Stop" }).isDisabled()).toBe(true);
    const stopped = await answer.innerText();
    await new Promise((r) => setTimeout(r, 600));
    expect(await answer.innerText()).toBe(stopped);
    expect(watch.take()).toEqual([]);
  });

  it("Playground: speech plays, a transcription takes an upload, an image shows", async () => {
    await page.getByRole("link", { name: "Speech" }).click();
    await expect.poll(() => page.getByLabel("Model").inputValue()).toBe("tts");
    await page.getByLabel("Text").fill("Hello from the dashboard");
    await page.getByRole("button", { name: "Speak" }).click();
    const audio = page.getByLabel("Generated speech");
    await audio.waitFor();
    await expect.poll(() => audio.evaluate((a: HTMLAudioElement) => (a.readyState >= 1 ? a.duration : 0))).toBeGreaterThan(0);

    await page.getByRole("link", { name: "Transcription" }).click();
    await expect.poll(() => page.getByLabel("Model").inputValue()).toBe("asr");
    await page.getByLabel("Audio file").setInputFiles({ name: "tone.wav", mimeType: "audio/wav", buffer: toneWav(1) });
    await page.getByRole("button", { name: "Transcribe" }).click();
    const transcript = page.getByLabel("Transcript");
    await transcript.waitFor();
    expect((await transcript.innerText()).length).toBeGreaterThan(0);

    await page.getByRole("link", { name: "Images" }).click();
    await expect.poll(() => page.getByLabel("Model").inputValue()).toBe("img");
    await page.getByLabel("Size").selectOption("256x256");
    await page.getByLabel("Prompt").fill("a lighthouse at dusk");
    await page.getByRole("button", { name: "Generate" }).click();
    const image = page.getByRole("img", { name: /a lighthouse at dusk/ });
    await image.waitFor();
    await expect.poll(() => image.evaluate((i: HTMLImageElement) => i.naturalWidth)).toBe(256);
    await screenshot(page, "playground-images");
    expect(watch.take()).toEqual([]);
  });

  it("Keys: a new key is shown once with a copy button, works, and stops working once revoked", async () => {
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: stack.gateway.url });
    await page.getByRole("link", { name: "Keys" }).click();
    // Keyboard only: the name field, Enter creates.
    await page.getByLabel("What the key is for").focus();
    await page.keyboard.type("browser-suite");
    await page.keyboard.press("Enter");
    const shown = page.getByLabel("The new key for browser-suite");
    await shown.waitFor();
    const key = await shown.inputValue();
    expect(key).toMatch(/^og-/);
    await page.getByRole("button", { name: "Copy key" }).click();
    await page.getByRole("button", { name: "Copied" }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
    expect((await stack.api.listModels(key)).status).toBe(200);
    await screenshot(page, "keys");

    // Shown once: not after the page is opened again.
    await page.reload();
    await page.getByRole("row", { name: /browser-suite/ }).waitFor();
    expect(await page.content()).not.toContain(key);

    const revoke = page.getByRole("button", { name: "Revoke browser-suite" });
    await revoke.focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Revoke browser-suite?" });
    await dialog.getByRole("button", { name: "Revoke" }).click();
    await page.getByRole("row", { name: /browser-suite/ }).getByText(/^revoked/).waitFor();
    expect((await stack.api.listModels(key)).status).toBe(401);
    expect(watch.take()).toEqual([]);
  });

  it("Nodes: drain a node from its page, and its replica moves to another; Models: scale from the card", async () => {
    const second = await startAgent(scope, {
      gateway: stack.gateway,
      env: {
        ...standInEngineEnv(["OMNIGATE_LLAMA_SERVER_BIN", "OMNIGATE_WHISPER_SERVER_BIN", "OMNIGATE_TTS_BIN", "OMNIGATE_SD_SERVER_BIN"]),
        HF_ENDPOINT: stack.hub.url,
        OMNIGATE_NODE_NAME: "gpu-b",
        LOG_LEVEL: "warn",
        STANDIN_LOAD_MS: "50",
      },
    });
    const res = await stack.api.registerModel({ name: "movable", repo: MODELS.asr.repo, runtime: "whisper", files: Object.keys(MODELS.asr.files), replicas: 1 });
    expect(res.status).toBe(201);
    const readyOn = async () => (await stack.api.model("movable"))?.nodes.filter((n) => n.ready && !n.leaving).map((n) => n.runtime_id) ?? [];
    const [first] = await waitFor(async () => ((await readyOn()).length === 1 ? await readyOn() : undefined), { what: "movable ready on one node", timeoutMs: 30_000 });
    const other = first === second.runtimeId ? stack.agent.runtimeId : second.runtimeId;

    await page.getByRole("link", { name: "Nodes" }).click();
    const card = page.getByRole("article", { name: new RegExp(first!.slice(0, 8)) });
    await card.getByRole("button", { name: /^Drain / }).click();
    const dialog = page.getByRole("dialog", { name: /^Drain / });
    await dialog.getByRole("button", { name: "Drain" }).click();
    await card.getByText("draining", { exact: true }).waitFor();
    // Make-before-break: ready on the other node, then gone from the drained one.
    await waitFor(async () => (await readyOn()).join() === other, { what: "movable moved off the drained node", timeoutMs: 30_000 });
    await waitFor(async () => !(await stack.api.node(first!))?.placed_models.includes("movable"), { what: "the drained node's ledger", timeoutMs: 30_000 });
    await screenshot(page, "nodes-draining");
    await card.getByRole("button", { name: /^Uncordon / }).click();
    await card.getByText("draining", { exact: true }).waitFor({ state: "detached" });

    await page.getByRole("link", { name: "Models" }).click();
    const model = page.getByRole("article", { name: "movable" });
    const replicas = model.getByLabel("Replicas of movable");
    await replicas.fill("two");
    await model.getByRole("button", { name: "Scale" }).click();
    await expect.poll(() => replicas.getAttribute("aria-invalid")).toBe("true");
    await replicas.fill("2");
    await model.getByRole("button", { name: "Scale" }).click();
    await model.getByText(/replicas 2 ready \/ 2 placed \/ 2 wanted/).waitFor({ timeout: 30_000 });
    expect((await readyOn()).sort()).toEqual([first, other].sort());
    expect(watch.take([400])).toEqual([]);
  });

  it("every page meets WCAG 2 AA (labels, names, contrast) at 1280 px and on a phone, with no sideways scroll on the phone", async () => {
    const routes = ["/", "/nodes", "/models", "/keys", "/playground/chat", "/playground/speech", "/playground/transcription", "/playground/images"];
    for (const viewport of [DESKTOP, PHONE]) {
      const { context, page: p, console: c } = await newPage(browser, viewport);
      await signIn(p, stack.gateway.url, stack.gateway.adminKey);
      for (const route of routes) {
        await p.goto(`${stack.gateway.url}/#${route}`);
        await p.getByRole("heading", { level: 1 }).waitFor();
        await p.getByRole("status").filter({ hasText: "live" }).waitFor();
        const violations = await accessibilityViolations(p);
        expect(violations, `${route} at ${viewport.width} px: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
        if (viewport === PHONE) {
          const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
          expect(overflow, `${route} scrolls sideways on a phone`).toBeLessThanOrEqual(0);
          if (route === "/" || route === "/models" || route === "/nodes") await screenshot(p, `phone${route === "/" ? "-overview" : route.replace("/", "-")}`);
        }
      }
      expect(c.take()).toEqual([]);
      await context.close();
    }
  });

  it("Overview: the traffic of the tests above shows in its figures and charts", async () => {
    await page.getByRole("link", { name: "Overview" }).click();
    const stats = page.getByRole("region", { name: "Fleet and traffic" });
    // Stats are polled every 5 s: the playground's requests appear within one poll.
    await expect.poll(async () => /Requests \/ s\s+[\d.]+\s+([1-9]\d*) in 15 min/.test(await stats.innerText()), { timeout: 15_000 }).toBe(true);
    expect(await stats.innerText()).toMatch(/Latency p50\s+[\d.]+ (µs|ms|s)\s+p99 [\d.]+ (µs|ms|s)/);
    // The chart library loads after the figures: both charts drawn before the picture is taken.
    await page.getByRole("region", { name: "Last 15 minutes" }).locator("canvas").nth(1).waitFor();
    await screenshot(page, "overview");
    expect(watch.take()).toEqual([]);
  });
});
