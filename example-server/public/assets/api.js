// Browser helpers shared by the pages: JSON calls to the server, friendly error text, the signed-in user, small DOM helpers.

/** An error answer from the server (or the network), with the byok-ai error code. */
export class ApiError extends Error {
  constructor(code, message, status, retryAfter) {
    super(message);
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** Turns a failed fetch Response into an ApiError, reading `{ error: { code, message } }` and Retry-After. */
export async function errorFrom(response) {
  const body = await response.json().catch(() => undefined);
  const retry = Number(response.headers.get("Retry-After"));
  const error = body?.error ?? {};
  return new ApiError(
    error.code ?? "INTERNAL",
    error.message ?? `HTTP ${response.status}`,
    response.status,
    Number.isFinite(retry) && retry > 0 ? retry : undefined,
  );
}

/** fetch + JSON both ways; resolves the parsed body (undefined for 204), rejects with ApiError. */
export async function api(path, { method = "GET", body, signal } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      signal,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new ApiError("NETWORK", "Could not reach the server.", 0);
  }
  if (!response.ok) throw await errorFrom(response);
  return response.status === 204 ? undefined : response.json();
}

const seconds = (n) => (n === undefined ? "in a little while" : `in ${n} second${n === 1 ? "" : "s"}`);
/** A wait of `n` seconds in the largest unit that reads well (a budget resets at midnight or month end, UTC). */
const later = (n) => {
  if (n === undefined || n < 120) return seconds(n);
  const [count, unit] = n < 7200 ? [Math.ceil(n / 60), "minute"] : [Math.ceil(n / 3600), "hour"];
  return `in ${count} ${unit}s`;
};

/**
 * Plain words for an ApiError. `where` is "key" on the key form, "chat" elsewhere: the same code
 * means something slightly different to someone saving a key and someone using one.
 */
export function friendlyError(error, where = "chat") {
  const code = error?.code ?? "INTERNAL";
  switch (code) {
    case "KEY_REJECTED":
      return where === "key"
        ? "The provider refused this key. Check that you copied the whole key and that it is still active, then try again."
        : "The provider refused your saved key (it may have been revoked). Replace it on the API keys page.";
    case "INVALID_REQUEST":
      return where === "key"
        ? "That does not look like an API key: paste the key exactly as the provider shows it (8 to 512 characters, no spaces)."
        : error.message; // the server's end-user text names the fields to fix
    case "KEY_NOT_FOUND":
      return where === "key"
        ? "There is no saved key to delete."
        : "You have no key for this provider yet. Add one on the API keys page.";
    case "RATE_LIMITED":
      return `Too many requests. Please try again ${seconds(error.retryAfter)}.`;
    case "BUDGET_EXCEEDED":
      return `This would go over your AI usage budget. It resets ${later(error.retryAfter)}.`;
    case "PROVIDER_RATE_LIMITED":
      return `The provider is limiting requests made with your key. Please try again ${seconds(error.retryAfter)}.`;
    case "PROVIDER_BAD_REQUEST":
      return error.message;
    case "PROVIDER_ERROR":
      return "The provider is not answering properly right now (it may be down). Please try again in a moment.";
    case "PROVIDER_TIMEOUT":
      return "The provider took too long to answer. Please try again.";
    case "UNAUTHENTICATED":
      return "Your session has ended. Please sign in again.";
    case "UNKNOWN_PROVIDER":
      return "This provider is not available on this server.";
    case "PAYLOAD_TOO_LARGE":
      return "That is too long. Please send something shorter.";
    case "KEY_UNREADABLE":
      return "Your saved key can no longer be read (the server's master key changed). Please add it again.";
    case "STORE_UNAVAILABLE":
      return "Saved keys are unavailable right now. Please try again in a moment.";
    case "NETWORK":
      return "Could not reach the server. Check your connection and try again.";
    default:
      return "Something went wrong on our side. Please try again.";
  }
}

/** Shows (or hides, with no text) an error element next to a field. */
export function showError(element, text) {
  element.textContent = text ?? "";
  element.hidden = !text;
}

/** Creates an element with attributes and children (strings become text nodes: never HTML). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === undefined) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.filter((c) => c !== undefined && c !== null));
  return node;
}

/** The provider ids the example offers, with display names. */
export const PROVIDERS = [
  { id: "gemini", name: "Google Gemini", where: "Google AI Studio → Get API key" },
  { id: "openai", name: "OpenAI", where: "platform.openai.com → API keys" },
  { id: "anthropic", name: "Anthropic", where: "console.anthropic.com → API keys" },
  // `connect`: the key can also come from signing in at the provider (GET /byok/connect/<id>), no pasting.
  { id: "openrouter", name: "OpenRouter", where: "openrouter.ai → Keys, or Connect OpenRouter", connect: true },
];

/** Shows who is signed in; sends the browser to the login page when nobody is. */
export async function loadUser() {
  try {
    const { user } = await api("/api/me");
    document.getElementById("who").textContent = `Signed in as ${user.id}`;
    return user;
  } catch (error) {
    if (error.code === "UNAUTHENTICATED") window.location.assign("/");
    throw error;
  }
}
