// Drives the example's pages in a real Chromium (playwright-core; Debian's or @sparticuz/chromium's): login, keys, streamed chat.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { type NodeProcess, ROOT, startNode } from "../helpers/node-process";
import { findChromium } from "./chromium";

const ARTIFACTS = join(ROOT, "test-artifacts");
const KEY = "AIza-browser-test-key-7Qa9";
const PROMPT = "please stream these seven words back";

/** The DOM this test reads inside the page (the test's tsconfig has no DOM types). */
type PageDocument = {
  body: { dataset: Record<string, string | undefined> };
  querySelectorAll(selector: string): { length: number };
};
/** Runs in the page: true once two chunks are shown while the answer is still streaming. */
const streamingWithChunks = () => {
  const doc = (globalThis as unknown as { document: PageDocument }).document;
  return doc.body.dataset.chat === "streaming" && doc.querySelectorAll("#answer .chunk").length >= 2;
};

describe("example-server pages in Chromium", () => {
  let example: NodeProcess;
  let browser: Browser;
  let page: Page;
  let url: string;
  const problems: string[] = [];

  beforeAll(async () => {
    example = startNode("test/example/serve-example.mjs", ["150"]);
    const found = await findChromium();
    url = JSON.parse((await example.waitFor(/^\{.*\}$/m))[0]).url;
    browser = await chromium
      .launch({ executablePath: found.executablePath, headless: true, args: found.args })
      .catch((error: Error) => {
        throw new Error(`Chromium from ${found.source} did not start: ${error.message}`);
      });
    page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    page.setDefaultTimeout(10_000);
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      // A 4xx answer logs "Failed to load resource"; that is expected for the rejected key. Anything else is a bug (CSP included).
      if (message.type() === "error" && !message.text().startsWith("Failed to load resource"))
        problems.push(message.text());
    });
    mkdirSync(ARTIFACTS, { recursive: true });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await example?.stop();
  });

  const card = (provider: string) => page.locator(`section[data-provider="${provider}"]`);

  it("signs in with the demo login and lands on the key settings page", async () => {
    await page.goto(url);
    await page.getByText("Demo login.").waitFor();
    await page.fill("#name", "alice");
    await page.click("button[type=submit]");
    await page.waitForURL(`${url}/keys`);
    await page.waitForSelector("body[data-ready=true]");
    expect(await page.textContent("#who")).toBe("Signed in as alice");
    expect(await card("gemini").locator("[data-field=none]").textContent()).toBe("No key saved.");
    // alice is the demo team's admin: the page shows her the team's keys too (members never see this section).
    expect(await page.isVisible("#team")).toBe(true);
    expect(await page.locator("section[data-team-provider]").count()).toBeGreaterThan(0);
  });

  it("saves a key, shows only its hint and dates, and clears the password field", async () => {
    const input = card("gemini").locator("input");
    expect(await input.getAttribute("type")).toBe("password");
    expect(await input.getAttribute("autocomplete")).toBe("off");
    await input.fill(KEY);
    await card("gemini").getByRole("button", { name: "Save key" }).click();
    await card("gemini").locator("dd.hint").waitFor();
    expect(await card("gemini").locator("dd.hint").textContent()).toBe("…7Qa9");
    expect(await card("gemini").locator("dl").textContent()).toMatch(/Added.*Updated.*Last used\s*never/s);
    // The status, in words and as a green dot.
    expect(await card("gemini").locator("dd.status").textContent()).toBe("Working");
    expect(await card("gemini").locator("dd.status .dot-ok").count()).toBe(1);
    expect(await input.inputValue()).toBe("");
    expect(await page.content()).not.toContain(KEY);
    await page.screenshot({ path: join(ARTIFACTS, "example-keys.png"), fullPage: true });
  });

  it("streams the chat answer into the page chunk by chunk", async () => {
    await page.click("nav >> text=Chat");
    await page.waitForURL(`${url}/chat`);
    await page.waitForSelector("body[data-ready=true]");
    expect(await page.locator("#provider option").allTextContents()).toEqual(["Google Gemini (key …7Qa9)"]);
    expect(await page.textContent("#key-used")).toBe("Answers with your key …7Qa9.");
    await page.fill("#prompt", PROMPT);
    await page.click("#send");
    // While the answer is still streaming, part of it is already on the page...
    await page.waitForFunction(streamingWithChunks); // a function, not a string: the page's CSP forbids eval
    const partial = (await page.textContent("#answer")) ?? "";
    // ...and then the rest arrives.
    await page.waitForSelector("body[data-chat=idle]");
    const full = await page.textContent("#answer");
    expect(full).toBe(`Echo: ${PROMPT}`);
    expect(partial.length).toBeLessThan(full!.length);
    expect(full!.startsWith(partial)).toBe(true);
    expect(await page.locator("#answer .chunk").count()).toBe(7);
    expect(await page.textContent("#answer-meta")).toMatch(/^gemini · your key …7Qa9 · .+ · \d+ tokens · stop$/);
    expect(await page.isHidden("#chat-error")).toBe(true);
  });

  it("summarizes through the app's own POST /summarize route", async () => {
    await page.fill("#summarize-text", "Keys are encrypted per user.");
    await page.click("#summarize-form button[type=submit]");
    await page.waitForSelector("#summary:not([hidden])");
    expect(await page.textContent("#summary")).toContain("Keys are encrypted per user.");
    await page.screenshot({ path: join(ARTIFACTS, "example-chat.png"), fullPage: true });
  });

  it("shows the chat in the usage table, and the team's usage to alice, its admin", async () => {
    await page.click("nav >> text=Usage");
    await page.waitForURL(`${url}/usage`);
    await page.waitForSelector("body[data-ready=true]");
    const today = new Date().toISOString().slice(0, 10);
    const row = page.locator(`#usage tr[data-row^="${today} gemini "]`).first();
    const cells = await row.locator("td").allTextContents();
    expect(cells.slice(0, 2)).toEqual([today, "Google Gemini"]);
    expect(Number(cells[3])).toBeGreaterThanOrEqual(1); // requests: the chat (and the summary, through connection())
    expect(Number(cells[4]!.replace(/\D/g, ""))).toBeGreaterThan(0); // input tokens
    expect(await page.isVisible("#team")).toBe(true);
    expect(await page.locator("#team-usage [data-field=none]").textContent()).toBe("No usage in the last 30 days.");
    expect(await page.isHidden("#page-error")).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, "example-usage.png"), fullPage: true });
  });

  it("lists the default provider (gemini) first and selected when the user has several keys", async () => {
    await page.click("nav >> text=API keys");
    await page.waitForSelector("body[data-ready=true]");
    await card("anthropic").locator("input").fill("sk-ant-browser-test-Kk11");
    await card("anthropic").getByRole("button", { name: "Save key" }).click();
    await card("anthropic").locator("dd.hint").waitFor();
    await page.click("nav >> text=Chat");
    await page.waitForSelector("body[data-ready=true]");
    expect(await page.locator("#provider option").allTextContents()).toEqual([
      "Google Gemini (key …7Qa9)",
      "Anthropic (key …Kk11)",
    ]);
    expect(await page.inputValue("#provider")).toBe("gemini");
    await page.click("nav >> text=API keys");
    await page.waitForSelector("body[data-ready=true]");
    await card("anthropic").getByRole("button", { name: "Delete key" }).click();
    await card("anthropic").locator("[data-field=none]").waitFor();
  });

  it("deletes the key and shows the card empty again", async () => {
    await page.click("nav >> text=API keys");
    await page.waitForSelector("body[data-ready=true]");
    expect(await card("gemini").locator("dt:has-text('Last used') + dd").textContent()).not.toBe("never");
    await card("gemini").getByRole("button", { name: "Delete key" }).click();
    await card("gemini").locator("[data-field=none]").waitFor();
    expect(await card("gemini").getByRole("status").textContent()).toBe("Key deleted.");
    expect(await card("gemini").getByRole("button", { name: "Delete key" }).isHidden()).toBe(true);
  });

  it("connects OpenRouter with its button: to the provider's page and back, the key saved and only its hint shown", async () => {
    const button = card("openrouter").getByRole("link", { name: "Connect OpenRouter" });
    await button.click();
    // The offline fake approves at once: the browser goes there, back to the callback, and on to a fresh key page
    // (`?connected=openrouter`, which the page drops from the address bar once it said so).
    await card("openrouter").locator("dd.hint").waitFor();
    expect(page.url()).toBe(`${url}/keys`);
    expect(await card("openrouter").getByRole("status").textContent()).toMatch(/^Connected: OpenRouter sent your key/);
    expect(await card("openrouter").locator("[data-field=status]").textContent()).toBe("Working");
    await page.screenshot({ path: join(ARTIFACTS, "example-keys-connected.png"), fullPage: true });
    await card("openrouter").getByRole("button", { name: "Delete key" }).click();
    await card("openrouter").locator("[data-field=none]").waitFor();
  });

  it("shows a rejected key's error in plain words next to the field", async () => {
    const input = card("openai").locator("input");
    await input.fill("bad-key-0000-1111");
    await card("openai").getByRole("button", { name: "Save key" }).click();
    const error = page.locator("#error-openai");
    await error.waitFor();
    expect(await error.textContent()).toMatch(/^The provider refused this key\./);
    expect(await input.inputValue()).toBe("");
    expect(await card("openai").locator("[data-field=none]").isVisible()).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, "example-keys-error.png"), fullPage: true });
  });

  it("tells a user with no key to add one on the chat page", async () => {
    await page.click("nav >> text=Chat");
    await page.waitForSelector("body[data-ready=true]");
    expect(await page.isVisible("#no-keys")).toBe(true);
    expect(await page.locator("#no-keys a").getAttribute("href")).toBe("/keys");
    expect(await page.isDisabled("#send")).toBe(true);
    expect(await page.isDisabled("#summarize-form button[type=submit]")).toBe(true);
  });

  it("shows bob, a member, that the team's key covers him, and names it as the key that answered his chat", async () => {
    // alice, the team's admin, adds the team's OpenAI key; then bob signs in.
    await page.click("nav >> text=API keys");
    await page.waitForSelector("body[data-ready=true]");
    const teamCard = page.locator('section[data-team-provider="openai"]');
    await teamCard.locator("input").fill("sk-team-browser-key-Tm77");
    await teamCard.getByRole("button", { name: "Save key" }).click();
    await teamCard.locator("dd.hint").waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("Demo login.").waitFor();
    await page.fill("#name", "bob");
    await page.click("button[type=submit]");
    await page.waitForURL(`${url}/keys`);
    await page.waitForSelector("body[data-ready=true]");
    expect(await card("openai").locator("[data-field=team-cover]").textContent()).toBe(
      "No key of your own: your team's key …Tm77 answers your OpenAI chats. A key you save here takes its place for you.",
    );
    expect(await card("gemini").locator("[data-field=none]").textContent()).toBe("No key saved.");
    await page.click("nav >> text=Chat");
    await page.waitForSelector("body[data-ready=true]");
    expect(await page.textContent("#key-used")).toBe("Answers with your team's key …Tm77.");
    await page.fill("#prompt", "hello team");
    await page.click("#send");
    await page.waitForSelector("#answer-meta:not(:empty)");
    expect(await page.textContent("#answer-meta")).toMatch(/^openai · your team's key …Tm77 · .+ · \d+ tokens · stop$/);
    await page.screenshot({ path: join(ARTIFACTS, "example-chat-team-key.png"), fullPage: true });
  });

  it("explains a connect flow that came back with ?byok_error=, in plain words, and drops it from the address bar", async () => {
    await page.goto(`${url}/keys?byok_error=INVALID_REQUEST&byok_error_fields=state`);
    await page.waitForSelector("body[data-ready=true]");
    expect(await page.textContent("#page-error")).toBe(
      "Connecting your account did not finish: that link was already used or is older than 10 minutes. Click Connect again.",
    );
    expect(page.url()).toBe(`${url}/keys`);
  });

  it("logs no script errors and no CSP violations", () => {
    expect(problems).toEqual([]);
  });
});
