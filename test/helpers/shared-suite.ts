// The HTTP suite every adapter answers identically (test/router/same-answers.test.ts, test/router/nextjs.test.ts):
// its exchanges, in order, and what is compared of each answer.
import { CANARY_KEY } from "./canary";

/** One exchange of the suite; `path` is under the routes' base path. */
export interface Exchange {
  method: string;
  path: string;
  user?: string;
  headers?: Record<string, string>;
  body?: string;
}

export const json = (value: unknown) => JSON.stringify(value);
export const JSON_TYPE = { "content-type": "application/json" };

/** The suite, in order: each step may depend on the ones before (a key registered, then replaced, used, deleted). */
export const SUITE: Exchange[] = [
  { method: "GET", path: "/keys" },
  {
    method: "POST",
    path: "/keys",
    user: "u1",
    headers: JSON_TYPE,
    body: json({ provider: "gemini", apiKey: CANARY_KEY }),
  },
  {
    method: "POST",
    path: "/keys",
    user: "u1",
    headers: JSON_TYPE,
    body: json({ provider: "gemini", apiKey: CANARY_KEY }),
  },
  { method: "GET", path: "/keys", user: "u1" },
  {
    method: "POST",
    path: "/keys",
    user: "u1",
    headers: { "content-type": "text/plain" },
    body: "provider=gemini",
  },
  { method: "POST", path: "/keys", user: "u1", headers: JSON_TYPE, body: "{not json" },
  { method: "POST", path: "/keys", user: "u1", headers: JSON_TYPE, body: '"a string"' },
  {
    method: "POST",
    path: "/keys",
    user: "u1",
    headers: JSON_TYPE,
    body: json({ provider: "gemini", apiKey: "x".repeat(20_000) }),
  },
  {
    method: "POST",
    path: "/keys",
    user: "u1",
    headers: JSON_TYPE,
    body: json({ provider: "gemini", apiKey: CANARY_KEY, userId: "u2" }),
  },
  { method: "POST", path: "/keys", user: "u1", headers: JSON_TYPE, body: json({ provider: 7 }) },
  { method: "POST", path: "/keys/check", user: "u1", headers: JSON_TYPE, body: json({ provider: "gemini" }) },
  { method: "GET", path: "/models?provider=gemini", user: "u1" },
  { method: "GET", path: "/models?provider=gemini&provider=openai", user: "u1" },
  { method: "POST", path: "/chat", user: "u1", headers: JSON_TYPE, body: json({ prompt: "hello" }) },
  { method: "POST", path: "/chat", user: "u1", headers: JSON_TYPE, body: json({ prompt: "hello", stream: true }) },
  {
    method: "POST",
    path: "/chat",
    user: "u1",
    headers: { ...JSON_TYPE, accept: "text/event-stream", "x-request-id": "req-1" },
    body: json({ prompt: "hello" }),
  },
  { method: "POST", path: "/chat", user: "u1", headers: JSON_TYPE, body: json({ prompt: 1 }) },
  { method: "GET", path: "/usage", user: "u1" },
  { method: "GET", path: "/usage?team=1", user: "u1" },
  { method: "GET", path: "/team/keys", user: "u1" },
  { method: "DELETE", path: "/team/keys?provider=gemini", user: "u1" },
  { method: "DELETE", path: "/keys?provider=gemini", user: "u1" },
  { method: "DELETE", path: "/keys", user: "u1", headers: JSON_TYPE, body: json({ provider: "gemini" }) },
  { method: "POST", path: "/chat", user: "u1", headers: JSON_TYPE, body: json({ prompt: "no key now" }) },
];

/** Headers that belong to the connection or the clock, not to the answer. */
const TRANSPORT = new Set(["date", "connection", "keep-alive", "transfer-encoding", "content-length"]);

/** What is compared of an answer: status, the answer's own headers, and the body with timestamps masked. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends `step` to the routes under `base` (e.g. `http://127.0.0.1:3000/byok`) and reads the answer. */
export async function exchange(base: string, step: Exchange): Promise<Answer> {
  const response = await fetch(base + step.path, {
    method: step.method,
    headers: { ...(step.user ? { "x-user": step.user } : {}), ...step.headers },
    ...(step.body === undefined ? {} : { body: step.body }),
  });
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (!TRANSPORT.has(name)) headers[name] = name === "ratelimit" ? value.replace(/reset=\d+/, "reset=<s>") : value;
  });
  const body = (await response.text()).replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<time>");
  return { status: response.status, headers, body };
}

/** The whole suite against the routes under `base`, in order. */
export async function runSuite(base: string): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (const step of SUITE) answers.push(await exchange(base, step));
  return answers;
}
