// Endpoints that keys carry (Azure resources, self-hosted servers): the host allow-list, and a fetch that refuses non-public addresses at connect time.
import { lookup as dnsLookup } from "node:dns";
import { BlockList, isIP, type LookupFunction, type Socket } from "node:net";
import type * as Undici from "undici";
import { ByokError } from "../errors.js";
import { lazyPeer } from "../core/optional-peer.js";
import type { UserEndpointOptions } from "../core/types.js";

/** Settings of a provider's user endpoints: {@link UserEndpointOptions} plus a resolver hook. */
export interface UserEndpointSettings extends UserEndpointOptions {
  /**
   * Resolves host names, for the registration check and for every connection (`dns.lookup`'s
   * signature). Defaults to `dns.lookup`. Tests pass one that maps a name to chosen addresses.
   */
  lookup?: LookupFunction;
}

/** What a provider needs of one endpoint: the URL it was given, its host, whether it stops at the origin. */
export interface EndpointGuard {
  /** Registration: the syntax and host checks, then one resolution of the host; resolves to the endpoint to store. */
  check(endpoint: string): Promise<string>;
  /** Every call: the syntax and host checks again (the allow-list may have changed since). */
  parse(endpoint: string): URL;
  /** Sends requests to user endpoints: never follows a redirect; unless `allowPrivateNetwork`, refuses non-public addresses. */
  readonly fetch: typeof fetch;
}

/** Longest endpoint accepted. */
const MAX_ENDPOINT = 2048;

const ranges = (list: [address: string, prefix: number][]): BlockList => {
  const block = new BlockList();
  for (const [address, prefix] of list) block.addSubnet(address, prefix, isIP(address) === 6 ? "ipv6" : "ipv4");
  return block;
};

/** Each kind of address that is not the public internet (IPv4-mapped IPv6 addresses match their IPv4 ranges). */
const NOT_PUBLIC: [kind: string, ranges: BlockList][] = [
  [
    "a cloud metadata",
    ranges([
      ["169.254.169.254", 32],
      ["fd00:ec2::254", 128],
    ]),
  ],
  [
    "a loopback",
    ranges([
      ["127.0.0.0", 8],
      ["::1", 128],
    ]),
  ],
  [
    "a private-network",
    ranges([
      ["10.0.0.0", 8],
      ["172.16.0.0", 12],
      ["192.168.0.0", 16],
      ["100.64.0.0", 10],
      ["fc00::", 7],
    ]),
  ],
  [
    "a link-local",
    ranges([
      ["169.254.0.0", 16],
      ["fe80::", 10],
    ]),
  ],
  [
    "an unspecified, multicast or reserved",
    ranges([
      ["0.0.0.0", 8],
      ["224.0.0.0", 4],
      ["240.0.0.0", 4],
      ["::", 128],
      ["ff00::", 8],
    ]),
  ],
];

/** What kind of non-public address `address` is, or `undefined` for a public one. */
export function nonPublicAddress(address: string): string | undefined {
  const bare = address.replace(/^\[|\]$/g, "");
  const family = isIP(bare);
  if (family === 0) return "an unparsable";
  return NOT_PUBLIC.find(([, block]) => block.check(bare, family === 6 ? "ipv6" : "ipv4"))?.[0];
}

/** INVALID_REQUEST naming the `endpoint` field (never its value). */
export function endpointError(problem: string): ByokError {
  return new ByokError("INVALID_REQUEST", `endpoint ${problem}`, { details: { fields: ["endpoint"] } });
}

const refusedAddress = (kind: string | undefined) =>
  kind === undefined
    ? endpointError("has a host name that resolves to no address; check it for typos.")
    : endpointError(
        `resolves to ${kind} address, which this server refuses (userEndpoints.allowPrivateNetwork is off); use the public https endpoint.`,
      );

/** The first non-public kind among `addresses`; `undefined` inside `{ kind }` when there is no address at all. */
function firstProblem(addresses: readonly string[]): { kind: string | undefined } | undefined {
  if (addresses.length === 0) return { kind: undefined };
  const kind = addresses.map(nonPublicAddress).find(Boolean);
  return kind ? { kind } : undefined;
}

/** Whether `host` (lower-case, no trailing dot) matches an allow-list entry: exact, or `*.` plus one label. */
function hostAllowed(host: string, allowed: readonly string[] | undefined): boolean {
  if (allowed === undefined) return true;
  return allowed.some((pattern) => {
    if (!pattern.startsWith("*.")) return host === pattern;
    const suffix = pattern.slice(1); // ".example.com"
    const label = host.slice(0, -suffix.length);
    return host.endsWith(suffix) && label.length > 0 && !label.includes(".");
  });
}

/** `lookup`, with every address it answers checked: one non-public address refuses the whole name. */
function checkedLookup(resolve: LookupFunction): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, answer, family) => {
      if (error) return callback(error, "", 0);
      const addresses = Array.isArray(answer) ? answer : [{ address: answer, family: family ?? isIP(answer) }];
      const problem = firstProblem(addresses.map((a) => a.address));
      if (problem) return callback(refusedAddress(problem.kind), "", 0);
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/** The addresses `hostname` resolves to, through `resolve`. */
function resolveAll(resolve: LookupFunction, hostname: string): Promise<string[]> {
  return new Promise((done, fail) =>
    resolve(hostname, { all: true }, (error, answer) =>
      error ? fail(error) : done(Array.isArray(answer) ? answer.map((a) => a.address) : [answer]),
    ),
  );
}

const loadUndici = lazyPeer<typeof Undici>("undici", "User endpoints");

/**
 * The undici Agent for guarded connections: every connection's address is checked before it is
 * made (a literal IP at once, a name through the checked lookup) and again once connected (the
 * address actually connected to), so a name that resolved to a public address when the key was
 * registered and to 127.0.0.1 now (DNS rebinding) gets nowhere.
 */
function guardedAgent(undici: typeof Undici, resolve: LookupFunction): Undici.Agent {
  const connector = undici.buildConnector({ lookup: checkedLookup(resolve) });
  return new undici.Agent({
    connect(options, callback) {
      const literal = options.hostname.replace(/^\[|\]$/g, "");
      const literalKind = isIP(literal) ? nonPublicAddress(literal) : undefined;
      if (literalKind) return callback(refusedAddress(literalKind), null);
      connector(options, (error, socket) => {
        if (error) return callback(error, null);
        const kind = nonPublicAddress((socket as Socket).remoteAddress ?? "");
        if (!kind) return callback(null, socket);
        socket.destroy();
        callback(refusedAddress(kind), null);
      });
    },
  });
}

/** The guard's own refusal when a fetch failed because of it (fetch wraps it as its `cause`), else the error. */
function unwrapRefusal(error: unknown): unknown {
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  return ByokError.is(cause) ? cause : error;
}

/**
 * The checks for endpoints that keys carry.
 * @param settings - the allow-list, `allowPrivateNetwork` and the resolver
 * @param originOnly - the endpoint is a bare origin (Azure: the client adds `/openai`), not an API root with a path
 */
export function endpointGuard(settings: UserEndpointSettings, originOnly: boolean): EndpointGuard {
  const open = settings.allowPrivateNetwork === true;
  const resolve = settings.lookup ?? (dnsLookup as LookupFunction);
  const hosts = settings.hosts;
  let agent: Promise<{ undici: typeof Undici; agent: Undici.Agent }> | undefined;

  const parse = (endpoint: string): URL => {
    if (typeof endpoint !== "string" || endpoint.length > MAX_ENDPOINT)
      throw endpointError(`must be a URL of at most ${MAX_ENDPOINT} characters.`);
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw endpointError(`must be an absolute URL such as "https://llm.example.com/v1".`);
    }
    if (url.protocol !== "https:" && !(open && url.protocol === "http:"))
      throw endpointError(`must be an https URL${open ? " (or http)" : ""}.`);
    if (url.username || url.password) throw endpointError("must not contain a user name or password.");
    if (url.search || url.hash) throw endpointError("must not contain a query or fragment.");
    if (url.hostname.endsWith(".")) throw endpointError("must not end its host name with a dot.");
    if (originOnly && url.pathname !== "/")
      throw endpointError('must be the resource endpoint alone, e.g. "https://my-resource.openai.azure.com".');
    if (!hostAllowed(url.hostname, hosts))
      throw endpointError("has a host this server does not allow (providers.<id>.userEndpoints.hosts).");
    const literal = url.hostname.replace(/^\[|\]$/g, "");
    const kind = !open && isIP(literal) ? nonPublicAddress(literal) : undefined;
    if (kind) throw refusedAddress(kind);
    return url;
  };

  const guarded = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    agent ??= loadUndici().then(
      (undici) => ({ undici, agent: guardedAgent(undici, resolve) }),
      (error: unknown) => {
        agent = undefined; // the next call tries again
        throw error;
      },
    );
    const { undici, agent: dispatcher } = await agent;
    try {
      const response = await undici.fetch(input as Undici.RequestInfo, {
        ...(init as Undici.RequestInit),
        redirect: "manual",
        dispatcher,
      });
      return response as unknown as Response;
    } catch (error) {
      throw unwrapRefusal(error);
    }
  };

  return {
    parse,
    async check(endpoint) {
      const url = parse(endpoint);
      if (!open && !isIP(url.hostname.replace(/^\[|\]$/g, ""))) {
        const addresses = await resolveAll(resolve, url.hostname).catch(() => {
          throw endpointError("has a host name that does not resolve; check it for typos.");
        });
        const problem = firstProblem(addresses);
        if (problem) throw refusedAddress(problem.kind);
      }
      return originOnly ? url.origin : url.href.replace(/\/+$/, "");
    },
    fetch: open ? (input, init) => fetch(input, { ...init, redirect: "manual" }) : (guarded as typeof fetch),
  };
}
