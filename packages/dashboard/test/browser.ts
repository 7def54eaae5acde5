// Headless Chromium from the system (Debian's `chromium`), driven by playwright-core: no browser is
// ever downloaded. Suites skip when it is absent; OMNIGATE_CHROMIUM_BIN points at another build.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = process.env.OMNIGATE_CHROMIUM_BIN ?? "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM);

const here = dirname(fileURLToPath(import.meta.url));
/** Screenshots of each page (the README shows copies of the main ones, in docs/screenshots). */
export const SCREENSHOT_DIR = resolve(process.env.OMNIGATE_SCREENSHOT_DIR ?? join(here, "..", "test-results", "screenshots"));

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Without the background-networking flags Chromium dials Google's hosts at every start.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
}

export const DESKTOP = { width: 1280, height: 860 } as const;
export const PHONE = { width: 390, height: 844 } as const;

/** Everything a page logged as an error or threw, so a test can require there was none. */
export class ConsoleWatch {
  readonly errors: string[] = [];

  constructor(page: Page) {
    page.on("console", (m) => {
      if (m.type() === "error") this.errors.push(`console.error: ${m.text()}`);
    });
    page.on("pageerror", (e) => this.errors.push(`uncaught: ${e.message}`));
  }

  /**
   * The errors so far, cleared. Chromium logs every answer with an error status as a console error;
   * `expected` names the statuses the test provoked on purpose (a wrong key's 401), which then
   * do not count.
   */
  take(expected: readonly number[] = []): string[] {
    const errors = this.errors.splice(0);
    return errors.filter((e) => {
      const status = /the server responded with a status of (\d+)/.exec(e)?.[1];
      return !(status && expected.includes(Number(status)));
    });
  }
}

export async function newPage(browser: Browser, viewport: { width: number; height: number } = DESKTOP): Promise<{ context: BrowserContext; page: Page; console: ConsoleWatch }> {
  const context = await browser.newContext({ viewport, baseURL: undefined });
  const page = await context.newPage();
  return { context, page, console: new ConsoleWatch(page) };
}

/** The whole page, or the window only (`fullPage: false`) for a page as long as a fleet. */
export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: options.fullPage ?? true });
}

/** Types the key into the sign-in form (keyboard only) and waits for the Overview. */
export async function signIn(page: Page, url: string, key: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel("Admin key").fill(key);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface AxeViolation {
  id: string;
  help: string;
  nodes: Array<{ target: string[]; failureSummary?: string }>;
}

/** axe-core's WCAG 2 A and AA rules on the page as it is now (labels, names, contrast, roles). */
export async function accessibilityViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: unknown) => Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return result.violations.map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) }));
  });
}
