// The system's Chromium (Debian's package) driven by playwright-core: never a downloaded browser.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = process.env.VALENCE_CHROMIUM ?? "/usr/bin/chromium";
export const artifacts = join(new URL("../../..", import.meta.url).pathname, "test-artifacts");

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install it with \`apt-get install chromium\` (scripts/install-services.sh does) or set VALENCE_CHROMIUM`);
  }
  mkdirSync(artifacts, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage"] });
}

/** A page that records every console error and uncaught exception into `errors`. */
export async function openPage(browser: Browser, errors: string[], opts: { dark?: boolean; width?: number; height?: number } = {}): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: opts.width ?? 1400, height: opts.height ?? 860 },
    colorScheme: opts.dark ? "dark" : "light",
  });
  const page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`${page.url()}: console.error: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`${page.url()}: uncaught: ${e.message}`));
  return page;
}

export const shot = (page: Page, name: string) => page.screenshot({ path: join(artifacts, `${name}.png`) });
