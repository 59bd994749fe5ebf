// Builds the example Express app: demo login, byok-ai's router, the app's own /summarize route, and the pages.
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import express from "express";
import helmet from "helmet";
import { BYOK, MemoryStore, RedisStore, byokErrorHandler, byokRouter, generateMasterKey } from "byok-ai";
import { startFakeProviders } from "byok-ai/testing";
import { demoAuth, requireLogin } from "./demo-auth.mjs";
import { otherErrors, summarizeRoute } from "./summarize.mjs";

const PUBLIC = fileURLToPath(new URL("./public/", import.meta.url));
/** The provider byok-ai uses when a request names none (and the user has a key for it); the chat page selects it first. */
const DEFAULT_PROVIDER = "gemini";
/** What the offline fakes answer: the default echo, one word per chunk, slowly enough to see it stream. */
const DEMO_FAKE_REPLY = Object.freeze({ chunkDelayMs: 80 });

/** Starts the fakes when at least one provider has no base URL; returns the `providers` option and a closer. */
async function providerSettings(baseUrls, fakeReply, log) {
  const missing = Object.keys(baseUrls).filter((id) => !baseUrls[id]);
  if (missing.length === 0) {
    return {
      providers: Object.fromEntries(Object.entries(baseUrls).map(([id, baseUrl]) => [id, { baseUrl }])),
      fakes: undefined,
    };
  }
  const fakes = await startFakeProviders({ defaultReply: fakeReply });
  const providers = {};
  // A fake's settings point the provider at it (OpenRouter's include its authorization page, for "Connect OpenRouter").
  for (const [id, baseUrl] of Object.entries(baseUrls)) providers[id] = baseUrl ? { baseUrl } : fakes.providers[id];
  log(
    `Offline mode: fake ${missing.join(", ")} API(s) from byok-ai/testing answer "Echo: <your prompt>". Keys starting with "bad" or "invalid" are refused.`,
  );
  log(`  Set ${missing.map((id) => `${id.toUpperCase()}_BASE_URL`).join(" / ")} to call a real provider instead.`);
  return { providers, fakes };
}

function masterKeyFor({ masterKey, production }, warn) {
  if (masterKey) return masterKey;
  if (production)
    throw new Error(
      "BYOK_MASTER_KEY is required when NODE_ENV=production: generate one with `npx byok-ai keygen` and keep it secret.",
    );
  warn(
    "No BYOK_MASTER_KEY set: generated a master key for this run. Saved keys will NOT survive a restart (set BYOK_MASTER_KEY, e.g. from `npx byok-ai keygen`).",
  );
  return generateMasterKey();
}

function sessionSecretFor({ sessionSecret, production }, warn) {
  if (sessionSecret) return sessionSecret;
  if (production) throw new Error("SESSION_SECRET is required when NODE_ENV=production (any long random string).");
  warn("No SESSION_SECRET set: generated one for this run; everyone is signed out on restart.");
  return randomBytes(32).toString("base64url");
}

/**
 * Creates the example app. Nothing listens yet: call `app.listen(port)` (0 for a free port).
 *
 * @param {object} [options]
 * @param {string} [options.masterKey] BYOK master key; generated (with a warning) when absent, required in production
 * @param {string} [options.sessionSecret] signs the demo session cookie; generated when absent, required in production
 * @param {string} [options.redisUrl] use RedisStore at this URL instead of MemoryStore
 * @param {{ gemini?: string, openai?: string, anthropic?: string, openrouter?: string }} [options.baseUrls] real provider APIs; the others run as local fakes
 * @param {boolean} [options.production] NODE_ENV=production: refuse to start without secrets, secure cookies
 * @param {import("byok-ai/testing").FakeReply} [options.fakeReply] what the offline fakes answer
 * @param {(message: string) => void} [options.log]
 * @param {(message: string) => void} [options.warn]
 * @returns {Promise<{ app: import("express").Express, byok: BYOK, close: () => Promise<void> }>}
 */
export async function createExampleApp(options = {}) {
  const log = options.log ?? console.log;
  const warn = options.warn ?? ((message) => console.warn(`WARNING: ${message}`));
  const masterKey = masterKeyFor(options, warn);
  const secret = sessionSecretFor(options, warn);
  const baseUrls = {
    gemini: undefined,
    openai: undefined,
    anthropic: undefined,
    openrouter: undefined,
    ...options.baseUrls,
  };
  const { providers, fakes } = await providerSettings(baseUrls, options.fakeReply ?? DEMO_FAKE_REPLY, log);
  const store = options.redisUrl
    ? new RedisStore({ url: options.redisUrl, prefix: "byok-example:" })
    : new MemoryStore();
  // Connect before serving: the first call also loads ioredis, which can outlast one call's time limit on a busy
  // machine; a second try then finds it loaded. Redis that is really down stops the start with a clear message.
  if (options.redisUrl) await store.connect().catch(() => store.connect());
  log(
    options.redisUrl
      ? "Keys are stored encrypted in Redis (REDIS_URL)."
      : "Keys are stored encrypted in memory (MemoryStore); set REDIS_URL to keep them in Redis.",
  );
  const byok = new BYOK({ masterKey, store, providers, defaultProvider: DEFAULT_PROVIDER });

  const app = express();
  app.disable("x-powered-by");
  // helmet's default CSP (scripts and styles only from this origin: the pages use no inline code), except
  // upgrade-insecure-requests outside production, so http://<LAN IP>:3000 still loads its scripts.
  app.use(
    helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: options.production ? [] : null } } }),
  );
  app.use("/assets", express.static(`${PUBLIC}assets`, { index: false, maxAge: 0 }));
  // Browsers ask for /favicon.ico on every page: "no icon", without a 404 in the console or the server's log.
  app.get("/favicon.ico", (_req, res) => res.set("Cache-Control", "public, max-age=86400").status(204).end());
  app.use(demoAuth({ secret, secure: Boolean(options.production) }));
  // POST/GET/DELETE /byok/keys and /byok/team/keys, POST /byok/chat, and req.ai on every request. The team's key
  // serves a member for every provider they have no own key for; only the team's admin may change it.
  // GET /byok/connect/openrouter: the key page's "Connect OpenRouter" button (offline, the fake approves at once).
  app.use(
    byokRouter({
      byok,
      getTeamId: (req) => req.user?.teamId,
      canManageTeamKeys: (req) => req.user?.role === "admin",
      connect: { openrouter: { returnTo: "/keys" } },
    }),
  );
  app.use(summarizeRoute());
  app.get("/api/settings", (_req, res) => res.json({ defaultProvider: DEFAULT_PROVIDER }));

  // `root`, not an absolute path: send refuses absolute paths with a dot-directory in them (a checkout in ~/.cache…).
  const page = (file) => (_req, res) => res.sendFile(file, { root: PUBLIC });
  app.get("/", (req, res, next) => (req.user ? res.redirect(303, "/keys") : next()), page("login.html"));
  app.get("/keys", requireLogin, page("keys.html"));
  app.get("/chat", requireLogin, page("chat.html"));
  app.get("/usage", requireLogin, page("usage.html"));
  app.use(byokErrorHandler()); // ByokErrors from the app's own routes (req.ai): JSON with their status, like /byok/*
  app.use(otherErrors);

  const close = async () => {
    await byok.close();
    await fakes?.close();
  };
  return { app, byok, close };
}
