// Runs the router tests on Express 4 and 5: loads byok-ai with `express` resolved to either version, plus an app fixture.
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import type { Express, NextFunction, Request, Response } from "express";
import type { AddressInfo } from "node:net";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type * as Lib from "../../lib";
import type { ByokStores, KeyRecord, KeyStore } from "../../lib/extend";
import { type FakeProviders, type FakeUpstream, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "./canary";

export type ExpressVersion = "express4" | "express5";
export const EXPRESS_VERSIONS: ExpressVersion[] = ["express4", "express5"];

/** byok-ai and express, loaded so that byok-ai's own `import "express"` is the given major version. */
export interface Kit {
  version: ExpressVersion;
  express: typeof import("express");
  lib: typeof Lib;
}

const kits = new Map<ExpressVersion, Kit>();

export function loadKit(version: ExpressVersion): Kit {
  const cached = kits.get(version);
  if (cached) return cached;
  let kit: Kit;
  if (version === "express5") {
    kit = {
      version,
      express: jest.requireActual<typeof import("express")>("express"),
      lib: jest.requireActual<typeof Lib>("../../lib"),
    };
  } else {
    let lib: typeof Lib | undefined;
    jest.isolateModules(() => {
      jest.doMock("express", () => jest.requireActual("express4"));
      lib = jest.requireActual<typeof Lib>("../../lib");
    });
    jest.dontMock("express");
    kit = { version, express: jest.requireActual<typeof import("express")>("express4"), lib: lib! };
  }
  expect((kit.express as unknown as { Router: unknown }).Router).toBeDefined();
  kits.set(version, kit);
  return kit;
}

export interface AppFixture {
  app: Express;
  byok: Lib.BYOK;
  store: KeyStore;
  /** The fake Gemini, which tests script and inspect. */
  fake: FakeUpstream;
  /** All three fakes: every built-in provider points at one, so no request can reach a real provider. */
  fakes: FakeProviders;
  /** Errors that reached the app's own error handler. */
  appErrors: unknown[];
  /** Every record in the store, sorted, for before/after comparisons. */
  snapshot(): Promise<KeyRecord[]>;
  close(): Promise<void>;
}

export interface AppFixtureOptions {
  router?: Partial<Lib.RouterOptions>;
  byok?: Partial<Lib.ByokOptions>;
  gemini?: { timeoutMs?: number };
  /** A store whole, or stores by capability. */
  store?: KeyStore | ByokStores;
  /** App middleware mounted before the router (e.g. an app-wide body parser). */
  beforeRouter?: ((req: Request, res: Response, next: NextFunction) => void)[];
}

/**
 * An app the way users write one: a login middleware (the `x-user` header sets `req.user`), the
 * byok router, its own JSON routes and its own error handler.
 */
export async function appFixture(kit: Kit, options: AppFixtureOptions = {}): Promise<AppFixture> {
  const fakes = await startFakeProviders();
  const fake = fakes.gemini;
  const stores = options.store ?? new kit.lib.MemoryStore();
  const store: KeyStore = (stores as Partial<ByokStores>).keys ?? (stores as KeyStore);
  const byok = new kit.lib.BYOK({
    masterKey: TEST_MASTER_KEY,
    store: stores,
    providers: { ...fakes.providers, gemini: { baseUrl: fake.url, ...options.gemini } },
    ...options.byok,
  });
  const app = kit.express() as Express;
  const appErrors: unknown[] = [];
  app.use((req: Request, _res: Response, next: NextFunction) => {
    const user = req.headers["x-user"];
    if (typeof user === "string") (req as unknown as { user: { id: string } }).user = { id: user };
    next();
  });
  for (const middleware of options.beforeRouter ?? []) app.use(middleware);
  app.use(kit.lib.byokRouter({ byok, ...options.router }));
  app.post("/app/echo", kit.express.urlencoded({ extended: false }), (req: Request, res: Response) => {
    res.json({ body: req.body ?? null });
  });
  app.post("/app/ask", kit.express.json(), (req: Request, res: Response, next: NextFunction) => {
    req.ai.chat({ prompt: String((req.body as { q?: string }).q) }).then((r) => res.json({ text: r.text }), next);
  });
  app.get("/app/plain", (_req: Request, res: Response) => {
    res.send("ok");
  });
  app.get("/app/boom", () => {
    throw new Error("app failure");
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    appErrors.push(error);
    res.status(599).json({ appHandled: true });
  });
  return {
    app,
    byok,
    store,
    fake,
    fakes,
    appErrors,
    async snapshot() {
      const all: KeyRecord[] = [];
      for await (const batch of store.scan()) all.push(...batch);
      return all.sort((a, b) =>
        `${a.userId}/${a.provider}/${a.label}`.localeCompare(`${b.userId}/${b.provider}/${b.label}`),
      );
    },
    async close() {
      await byok.close();
      await fakes.close();
    },
  };
}

/** Listens on 127.0.0.1 for tests that need a raw socket (client disconnects). */
export async function listen(
  app: Express | ((req: IncomingMessage, res: ServerResponse) => void),
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/** Where the shared HTTP suite runs: Express 4 and 5 and Connect (byokRouter), and byokHandler under Hono on Node. */
export type ServerKind = "express4" | "express5" | "connect" | "hono";
export const SERVER_KINDS: ServerKind[] = ["express4", "express5", "connect", "hono"];

/** Options both adapters take, as the shared suite gives them. */
export type SharedRouteOptions = Omit<Lib.RouterOptions, "byok" | "getUserId" | "getTeamId" | "canManageTeamKeys">;

/**
 * The byok routes of `byok` served over HTTP on 127.0.0.1 by `kind`: the `x-user` header is the
 * signed-in user (req.user for byokRouter, getUserId for byokHandler), as an app's session would be.
 */
export async function serveRoutes(
  kind: ServerKind,
  byok: Lib.BYOK,
  options: SharedRouteOptions = {},
): Promise<{ url: string; close(): Promise<void> }> {
  if (kind === "hono") {
    const handler = loadKit("express5").lib.byokHandler({
      byok,
      ...options,
      getUserId: (request) => request.headers.get("x-user") ?? undefined,
    });
    const app = new Hono();
    app.all(`${options.basePath ?? "/byok"}/*`, (c) => handler(c.req.raw));
    const server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s as Server));
    });
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
    };
  }
  const login = (req: IncomingMessage, _res: ServerResponse, next: () => void) => {
    const user = req.headers["x-user"];
    if (typeof user === "string") (req as IncomingMessage & { user?: { id: string } }).user = { id: user };
    next();
  };
  const kit = loadKit(kind === "express4" ? "express4" : "express5");
  const router = kit.lib.byokRouter({ byok, ...options });
  if (kind === "connect") {
    const connect = jest.requireActual<typeof import("connect")>("connect");
    const app = connect();
    app.use(login);
    app.use(router as unknown as import("connect").NextHandleFunction);
    return listen(app as unknown as Express);
  }
  const app = kit.express();
  app.use(login);
  app.use(router);
  return listen(app);
}
