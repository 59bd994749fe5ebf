// The leak suites' one fixture: what a hunt collects (console output, events, values to render) and its checks,
// that no secret shows up in any of it and that the upstream saw a key only in its auth header.
import type { ByokEvent } from "../../lib";
import type { FakeUpstream } from "../../lib/testing";
import { captureConsole, keyPieces, renderings } from "./canary";

/** What a leak hunt collects; see {@link leakHunt}. */
export interface LeakHunt {
  /** Values rendered every way (JSON, util.inspect, String, stack) for the check: results, errors, instances. */
  seen: unknown[];
  /** Every event; pass {@link LeakHunt.onEvent} as BYOK's `onEvent`. */
  events: ByokEvent[];
  onEvent(event: ByokEvent): void;
  /** Runs `body` with the console, stdout and stderr captured into the hunt. */
  capture(body: () => Promise<void>): Promise<void>;
  /**
   * Fails naming each secret found in the captured output, the events, `seen` and `extra` texts. With `pieces`, any
   * 8 characters in a row of a secret or of its URL-encoded, base64, hex or reversed forms count too.
   */
  expectNone(secrets: string[], options?: { extra?: string[]; pieces?: boolean }): void;
}

export function leakHunt(): LeakHunt {
  const output: string[] = [];
  const hunt: LeakHunt = {
    seen: [],
    events: [],
    onEvent: (event) => void hunt.events.push(event),
    async capture(body) {
      output.push((await captureConsole(body)).output);
    },
    expectNone(secrets, { extra = [], pieces = false } = {}) {
      const everything = [...output, ...extra, ...hunt.events.map(renderings), ...hunt.seen.map(renderings)].join("\n");
      expect(secrets.filter((secret) => everything.includes(secret))).toEqual([]);
      if (!pieces) return;
      for (const secret of secrets) {
        // Every 8 characters in a row of the secret or of its encoded forms (URL, base64, hex, reversed), but
        // ordinary lower-case words ("anthropi" is in every provider URL) and 8 hex digits (request ids are
        // hex); hex is hunted with 16 characters instead.
        const candidates = keyPieces(secret).filter(
          (piece) => !/^[a-z]+$/.test(piece) && !/^[0-9a-f]{8}$/i.test(piece),
        );
        const hex = Buffer.from(secret).toString("hex");
        for (const form of [hex, hex.toUpperCase()])
          for (let i = 0; i + 16 <= form.length; i += 2) candidates.push(form.slice(i, i + 16));
        expect(candidates.filter((piece) => everything.includes(piece))).toEqual([]);
      }
    },
  };
  return hunt;
}

/**
 * Fails unless `fake` saw `key` in its auth header (`header: value`; on `every` request, or at least one) and the
 * marker (e.g. "CANARY") nowhere else: not in a path, a body or another header.
 */
export function expectOnlyInAuthHeader(
  fake: FakeUpstream,
  [header, value]: [string, string],
  marker: string,
  { every = false }: { every?: boolean } = {},
): void {
  const requests = fake.requests;
  const sent = requests.filter((r) => r.headers[header] === value).length;
  expect(every ? sent === requests.length && sent > 0 : sent > 0).toBe(true);
  for (const r of requests) {
    expect(JSON.stringify({ path: r.path, body: r.body })).not.toContain(marker);
    for (const [name, v] of Object.entries(r.headers))
      if (name !== header) expect(`${name}: ${String(v)}`).not.toContain(marker);
  }
}
