// Jest setupFilesAfterEnv: no test may reach anything but this machine. Every TCP or TLS connection (net, tls, http,
// fetch: all go through net.Socket#connect) to an address outside loopback is refused before a byte leaves, and the
// test that made it fails, even when the code under test caught the connection error. A real provider's URL, or any
// host name but localhost, is such an address: a test points every built-in provider at a fake from byok-ai/testing.
import type { LookupAddress } from "node:dns";
import { isIP, Socket } from "node:net";

/** Loopback: 127.0.0.0/8, ::1 (also as an IPv4-mapped address) and the name localhost. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (bare === "localhost" || bare === "::1") return true;
  const v4 = bare.replace(/^::ffff:/, "");
  return isIP(v4) === 4 && v4.startsWith("127.");
}

type Lookup = (hostname: string, options: object, callback: (...answer: unknown[]) => void) => void;
type ConnectOptions = { path?: unknown; host?: unknown; port?: unknown; lookup?: Lookup };

/** Where a `Socket#connect(...)` call goes (its options object when it has one): undefined for a Unix socket path. */
function target(args: unknown[]): { host: string; port: unknown; options?: ConnectOptions } | undefined {
  // net.connect() hands over its already normalized [options, callback] array.
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (first !== null && typeof first === "object") {
    const options = first as ConnectOptions;
    if (options.path !== undefined) return undefined;
    return { host: typeof options.host === "string" ? options.host : "localhost", port: options.port, options };
  }
  if (typeof first === "string" && !/^\d+$/.test(first)) return undefined; // a path
  return { host: typeof args[1] === "string" ? args[1] : "localhost", port: first };
}

/**
 * A host name that comes with its own `lookup` (a test's resolver hook, as the SSRF guard's tests use) is judged by
 * the addresses that lookup gives: any outside loopback fails. Any other name but localhost is refused outright.
 */
function guardedLookup(inner: Lookup, refuse: (address: string) => Error): Lookup {
  return (hostname, options, callback) =>
    inner(hostname, options, (error, address, family) => {
      if (error) return callback(error);
      const all = Array.isArray(address) ? (address as LookupAddress[]).map((a) => a.address) : [String(address)];
      const outside = all.find((a) => !isLoopback(a));
      if (outside !== undefined) return callback(refuse(outside));
      callback(null, address, family);
    });
}

// The guard lives on the process's one `net` module (every test file of a worker shares it), installed once.
const INSTALLED = Symbol.for("byok-ai.test.loopback-only");
const proto = Socket.prototype as Socket & { [INSTALLED]?: string[] };
if (!proto[INSTALLED]) {
  const blocked: string[] = [];
  const connect = proto.connect as (this: Socket, ...args: unknown[]) => Socket;
  proto[INSTALLED] = blocked;
  const refusal = (where: string) => {
    const message =
      `Blocked a connection to ${where}: tests may only connect to loopback ` +
      "(127.0.0.0/8, ::1, localhost). Point every built-in provider at a fake from byok-ai/testing.";
    blocked.push(message);
    return new Error(message);
  };
  proto.connect = function guardedConnect(this: Socket, ...args: unknown[]) {
    const to = target(args);
    if (!to || isLoopback(to.host)) return connect.apply(this, args);
    const { lookup } = to.options ?? {};
    if (lookup && isIP(to.host.replace(/^\[(.*)\]$/, "$1")) === 0) {
      to.options!.lookup = guardedLookup(lookup, (address) => refusal(`${to.host} (${address}):${String(to.port)}`));
      return connect.apply(this, args);
    }
    const error = refusal(`${to.host}:${String(to.port)}`);
    process.nextTick(() => this.destroy(error));
    return this;
  } as Socket["connect"];
}

afterEach(() => {
  const blocked = proto[INSTALLED]!.splice(0);
  if (blocked.length) throw new Error(blocked.join("\n"));
});
