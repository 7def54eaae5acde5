// Tried as a new user would: the README's start command (tools/start-local.mjs, what `pnpm start`
// runs after building), then the URL it prints opened in a browser, signed in with the key from the
// file it names. Nothing is configured but free ports and temp dirs.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "@omnigate/testkit/cluster";
import { TestScope } from "@omnigate/testkit/scope";
import { standInEngineEnv } from "@omnigate/testkit/stand-ins";
import { freePort } from "../../node-agent/src/supervisor/free-port.js";
import { hasChromium, launchBrowser, newPage, screenshot } from "./browser.js";
import { assertDashboardBuilt } from "./stack.js";

const scope = new TestScope();
afterAll(() => scope.cleanup());

describe.skipIf(!hasChromium)("a new user's first minutes", () => {
  it("the start command prints the dashboard's URL and the key file; that key signs in and shows the local node", async () => {
    assertDashboardBuilt();
    const port = await freePort();
    const start = scope.spawn(join(REPO_ROOT, "tools/start-local.mjs"), {
      name: "start",
      env: {
        OMNIGATE_PORT: String(port),
        OMNIGATE_DATA_DIR: await scope.tempDir("og-newuser-gw-"),
        OMNIGATE_STATE_DIR: await scope.tempDir("og-newuser-agent-"),
        OMNIGATE_AGENT_PORT: "0",
        LOG_LEVEL: "warn",
        ...standInEngineEnv(),
      },
    });
    const [, url, keyFile] = await start.waitForLine(/omnigate dashboard: open (http\S+) and sign in with the admin key in (\S+)$/, 20_000);
    expect(url).toBe(`http://127.0.0.1:${port}/`);
    const key = (await readFile(keyFile!, "utf8")).trim();

    const browser = await launchBrowser();
    try {
      const { page, console: watch } = await newPage(browser);
      await page.goto(url!);
      await page.getByLabel("Admin key").fill(key);
      await page.getByRole("button", { name: "Sign in" }).click();
      const stats = page.getByRole("region", { name: "Fleet and traffic" });
      await stats.getByText("1 / 1").waitFor({ timeout: 30_000 });
      expect(await stats.innerText()).toMatch(/Nodes online\s+1 \/ 1/);
      await screenshot(page, "new-user-overview");
      expect(watch.take()).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
