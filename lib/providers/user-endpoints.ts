// Endpoints that keys carry (Azure resources, self-hosted servers): the host allow-list, and a fetch that refuses non-public addresses at connect time.
import { lookup as dnsLookup } from "node:dns";
import { isIP, type LookupFunction, type Socket } from "node:net";
import ipaddr from "ipaddr.js";
import type * as Undici from "undici";
import { ByokError } from "../errors.js";
import { endpointRefused, type EndpointRefusalReason } from "../core/validate.js";
import { lazyPeer } from "../core/optional-peer.js";
import type { UserEndpointOptions } from "../core/types.js";
import { configError, type SettingRules } from "../core/option-checks.js";
import { checkUserEndpoints, USER_ENDPOINT_RULES } from "../core/provider-settings.js";

/** Settings of a provider's user endpoints: {@link UserEndpointOptions} plus a resolver hook. */
export interface UserEndpointSettings extends UserEndpointOptions {
  /**
   * Resolves host names, for the registration check and for every connection (`dns.lookup`'s
   * signature). Defaults to `dns.lookup`. Tests pass one that maps a name to chosen addresses.
   */
  lookup?: LookupFunction;
}

/** The rules of {@link UserEndpointSettings}: those of `providers: {…}`, plus the resolver. */
const USER_ENDPOINT_SETTING_RULES: SettingRules<UserEndpointSettings> = {
  ...USER_ENDPOINT_RULES,
  lookup(value, label) {
    if (typeof value !== "function") throw configError(`${label} must be a function with dns.lookup's signature.`);
    return value as LookupFunction;
  },
};

/** The rule of a factory's `userEndpoints` setting. */
export function checkUserEndpointSettings(value: unknown, label: string): UserEndpointSettings {
  return checkUserEndpoints(value, label, USER_ENDPOINT_SETTING_RULES);
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

/** How a refusal names each of ipaddr.js's non-public ranges (any range but `unicast`); others read "a reserved". */
const RANGE_WORDS: Readonly<Record<string, string>> = {
  loopback: "a loopback",
  private: "a private-network",
  uniqueLocal: "a private-network",
  carrierGradeNat: "a private-network",
  linkLocal: "a link-local",
  unspecified: "an unspecified",
  broadcast: "a broadcast",
  multicast: "a multicast",
};

/** The IPv6 ranges whose addresses lead to an IPv4 address they carry: public only if that address is. */
const CARRIES_IPV4 = new Set(["ipv4Mapped", "rfc6145", "rfc6052", "6to4", "teredo"]);
/** NAT64's well-known prefix (RFC 6052), which carries the IPv4 address in its last 32 bits. */
const NAT64_WELL_KNOWN = ipaddr.parseCIDR("64:ff9b::/96") as [ipaddr.IPv6, number];

const ipv4At = (bytes: number[], start: number) => new ipaddr.IPv4(bytes.slice(start, start + 4));

/**
 * The IPv4 addresses an IPv6 address carries, where traffic to it reaches them: IPv4-mapped and
 * -translated (`::ffff:a.b.c.d`, `::ffff:0:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64
 * (`64:ff9b::a.b.c.d`), 6to4 (`2002:AABB:CCDD::`), and Teredo (its server, and its client stored
 * inverted). `undefined` for an address that carries none, or carries one in a form no one can
 * check (NAT64's local-use prefix `64:ff9b:1::/48`, whose layout depends on the operator's prefix).
 */
function carriedIPv4(address: ipaddr.IPv6): ipaddr.IPv4[] | undefined {
  const bytes = address.toByteArray();
  switch (address.range()) {
    case "ipv4Mapped":
    case "rfc6145":
      return [ipv4At(bytes, 12)];
    case "rfc6052":
      return address.match(NAT64_WELL_KNOWN) ? [ipv4At(bytes, 12)] : undefined;
    case "6to4":
      return [ipv4At(bytes, 2)];
    case "teredo":
      return [
        ipv4At(bytes, 4),
        ipv4At(
          bytes.map((byte) => byte ^ 0xff),
          12,
        ),
      ];
    default:
      return bytes.slice(0, 12).every((byte) => byte === 0) ? [ipv4At(bytes, 12)] : [];
  }
}

/**
 * What kind of non-public address `address` is, or `undefined` for a public one. Public is what
 * ipaddr.js classifies as `unicast` (every special-purpose range of RFC 6890 and its successors is
 * not: private, loopback, link-local with the cloud metadata address, carrier-grade NAT, benchmarking
 * 198.18.0.0/15, IETF protocol assignments 192.0.0.0/24, reserved 240.0.0.0/4, documentation,
 * multicast…), and an IPv6 address that carries an IPv4 address is public only if that address is.
 */
export function nonPublicAddress(address: string): string | undefined {
  const bare = address.replace(/^\[|\]$/g, "");
  if (isIP(bare) === 0) return "an unparsable";
  const parsed = ipaddr.parse(bare);
  const range = parsed.range();
  if (parsed.kind() === "ipv6" && (range === "unicast" || CARRIES_IPV4.has(range))) {
    const carried = carriedIPv4(parsed as ipaddr.IPv6);
    if (carried === undefined) return "a reserved";
    const inner = carried.map((ipv4) => nonPublicAddress(ipv4.toString())).find(Boolean);
    return inner && `an IPv6 form of ${inner}`;
  }
  return range === "unicast" ? undefined : (RANGE_WORDS[range] ?? "a reserved");
}

/** INVALID_REQUEST naming the `endpoint` field (never its value), with why in `details.reason`. */
export function endpointError(problem: string, reason: EndpointRefusalReason): ByokError {
  return endpointRefused(`endpoint ${problem}`, reason);
}

const refusedAddress = (kind: string | undefined) =>
  kind === undefined
    ? endpointError("has a host name that resolves to no address; check it for typos.", "unresolvable")
    : endpointError(
        `resolves to ${kind} address, which this server refuses (userEndpoints.allowPrivateNetwork is off); use the public https endpoint.`,
        "private_address",
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
      throw endpointError(`must be a URL of at most ${MAX_ENDPOINT} characters.`, "not_a_url");
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw endpointError(`must be an absolute URL such as "https://llm.example.com/v1".`, "not_a_url");
    }
    if (url.protocol !== "https:" && !(open && url.protocol === "http:"))
      throw endpointError(`must be an https URL${open ? " (or http)" : ""}.`, "not_https");
    if (url.username || url.password)
      throw endpointError("must not contain a user name or password.", "has_credentials");
    if (url.search || url.hash) throw endpointError("must not contain a query or fragment.", "has_query");
    if (url.hostname.endsWith(".")) throw endpointError("must not end its host name with a dot.", "trailing_dot");
    if (originOnly && url.pathname !== "/")
      throw endpointError(
        'must be the resource endpoint alone, e.g. "https://my-resource.openai.azure.com".',
        "not_origin",
      );
    if (!hostAllowed(url.hostname, hosts))
      throw endpointError(
        "has a host this server does not allow (providers.<id>.userEndpoints.hosts).",
        "host_not_allowed",
      );
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
          throw endpointError("has a host name that does not resolve; check it for typos.", "unresolvable");
        });
        const problem = firstProblem(addresses);
        if (problem) throw refusedAddress(problem.kind);
      }
      return originOnly ? url.origin : url.href.replace(/\/+$/, "");
    },
    fetch: open ? (input, init) => fetch(input, { ...init, redirect: "manual" }) : (guarded as typeof fetch),
  };
}
