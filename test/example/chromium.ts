// Finds a Chromium for the browser test without downloading one: Debian's, else the one @sparticuz/chromium ships.
import { existsSync } from "node:fs";
import sparticuz from "@sparticuz/chromium";

/** What `playwright-core`'s `chromium.launch()` needs. */
export interface FoundChromium {
  executablePath: string;
  args: string[];
  /** Where it came from, for failure messages. */
  source: string;
}

const DEBIAN_CHROMIUM = "/usr/bin/chromium";

/**
 * Flags for a headless run on a machine with no network beyond localhost: without the background-networking
 * ones, Chromium keeps trying to reach Google's hosts.
 */
const QUIET = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-quic",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Debian's `/usr/bin/chromium` when installed; otherwise the headless Chromium inside the `@sparticuz/chromium`
 * npm package (a devDependency), which `executablePath()` unpacks into the temp folder (a few seconds, once).
 */
export async function findChromium(): Promise<FoundChromium> {
  if (existsSync(DEBIAN_CHROMIUM)) return { executablePath: DEBIAN_CHROMIUM, args: QUIET, source: DEBIAN_CHROMIUM };
  const executablePath = await sparticuz.executablePath();
  // playwright sets the headless mode itself (`headless: true`); keep the package's other serverless flags.
  const args = [...sparticuz.args.filter((flag) => !flag.startsWith("--headless")), ...QUIET];
  return { executablePath, args: [...new Set(args)], source: `@sparticuz/chromium (${executablePath})` };
}
