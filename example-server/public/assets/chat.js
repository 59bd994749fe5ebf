// Chat page: streams the answer from POST /byok/chat (fetch + SSE reader), and calls the app's own POST /summarize.
import { api, errorFrom, friendlyError, loadUser, PROVIDERS, showError } from "./api.js";
import { readSse } from "./sse.js";

const $ = (id) => document.getElementById(id);
const [form, select, prompt, send, stop, status, error, answer, meta] = [
  "chat-form",
  "provider",
  "prompt",
  "send",
  "stop",
  "chat-status",
  "chat-error",
  "answer",
  "answer-meta",
].map($);
let controller;

/** Sends the prompt and appends each streamed chunk as it arrives. */
async function chat(provider, text) {
  controller = new AbortController();
  const response = await fetch("/byok/chat", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify({ provider, model: $("model").value || undefined, prompt: text, stream: true }),
    signal: controller.signal,
  });
  if (!response.ok) throw await errorFrom(response); // failures before the stream starts are plain JSON errors
  for await (const { event, data } of readSse(response)) {
    if (event === "chunk")
      answer.append(Object.assign(document.createElement("span"), { className: "chunk", textContent: data.text }));
    else if (event === "done") {
      // The provider that answered, and of its listed keys the one byok-ai picks (not re-read per chat: GET
      // /byok/keys counts in the keys routes' rate limit).
      const key = whose(loaded, data.provider);
      const used = key ? ` · ${describe(key)}` : "";
      meta.textContent = `${data.provider}${used} · ${data.model} · ${data.usage.totalTokens} tokens · ${data.finishReason}`;
    } else if (event === "error") throw Object.assign(new Error(data.message), { code: data.code });
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = prompt.value.trim();
  if (!text) return showError(error, "Type a prompt first.");
  showError(error, "");
  answer.replaceChildren();
  meta.textContent = "";
  [send.disabled, stop.hidden, status.textContent] = [true, false, "Answering…"];
  document.body.dataset.chat = "streaming";
  try {
    await chat(select.value, text);
    status.textContent = "";
  } catch (failure) {
    status.textContent = "";
    if (failure?.name === "AbortError") status.textContent = "Stopped.";
    else showError(error, failure?.code ? friendlyError(failure) : "The connection was interrupted. Please try again.");
  } finally {
    [send.disabled, stop.hidden] = [false, true];
    document.body.dataset.chat = "idle";
  }
});
stop.addEventListener("click", () => controller?.abort());

/** Offers the models the user's key for the selected provider can use (GET /byok/models); "Default model" stays first. */
async function loadModels() {
  const models = select.value ? (await api(`/byok/models?provider=${select.value}`)).models : [];
  $("model").replaceChildren(
    new Option("Default model", ""),
    ...models.map((m) => new Option(m.displayName ?? m.id, m.id)),
  );
}
select.addEventListener("change", () => loadModels().catch((failure) => showError(error, friendlyError(failure))));

$("summarize-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const out = $("summary");
  showError($("summarize-error"), "");
  out.hidden = true;
  try {
    const { summary } = await api("/summarize", {
      method: "POST",
      body: { text: $("summarize-text").value, provider: select.value || undefined },
    });
    [out.textContent, out.hidden] = [summary, false];
  } catch (failure) {
    showError($("summarize-error"), friendlyError(failure));
  }
});

/**
 * The key that answers for `provider`, from GET /byok/keys (each KeyInfo says its `owner`): the user's own
 * wins over the team's, as byok-ai chooses.
 */
const whose = ({ keys, teamKeys = [] }, provider) =>
  keys.find((k) => k.provider === provider) ?? teamKeys.find((k) => k.provider === provider);
const describe = (key) => `${key.owner === "team" ? "your team's key" : "your key"} ${key.hint}`;
/** The keys as the page loaded them, for the line under the provider list. */
let loaded = { keys: [] };
const showKeyUsed = () => {
  const key = select.value ? whose(loaded, select.value) : undefined;
  $("key-used").textContent = key ? `Answers with ${describe(key)}.` : "";
};
select.addEventListener("change", showKeyUsed);

async function main() {
  await loadUser();
  const [listed, { defaultProvider }] = await Promise.all([api("/byok/keys"), api("/api/settings")]);
  loaded = listed;
  const { keys: own, teamKeys = [] } = listed;
  const keys = [...own, ...teamKeys.filter((t) => !own.some((k) => k.provider === t.provider))];
  const names = new Map(PROVIDERS.map((p) => [p.id, p.name]));
  // The default provider first and selected: it is the one byok-ai calls when a request names none.
  const ordered = [...keys].sort((a, b) => (b.provider === defaultProvider) - (a.provider === defaultProvider));
  select.replaceChildren(
    ...ordered.map(
      (k, i) =>
        new Option(
          `${names.get(k.provider) ?? k.provider} (${k.owner === "team" ? "team key" : "key"} ${k.hint})`,
          k.provider,
          i === 0,
          i === 0,
        ),
    ),
  );
  if (keys.length === 0) select.replaceChildren(new Option("No key yet: add one on the API keys page", ""));
  showKeyUsed();
  await loadModels().catch((failure) => showError(error, friendlyError(failure)));
  $("no-keys").hidden = keys.length > 0;
  for (const control of [select, send, $("summarize-form").querySelector("button")])
    control.disabled = keys.length === 0;
  document.body.dataset.ready = "true";
}

main().catch((failure) => showError(error, friendlyError(failure)));
