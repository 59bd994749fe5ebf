// Key settings page: per provider, add / replace / delete / check the user's key and show its hint, status and dates (never the key).
import { api, el, friendlyError, loadUser, PROVIDERS, showError } from "./api.js";

const list = document.getElementById("providers");
/** What each KeyInfo.status means to the user. */
const STATUS = {
  ok: "Working",
  invalid: "Refused by the provider: replace it",
  quota_exhausted: "Out of quota or credit: top up with the provider",
  rate_limited: "Rate limited by the provider",
  unreadable: "Unreadable: add it again",
};
const when = (iso) =>
  iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "never";
/** The status in words, with when a quota or rate limit is expected to lift (`statusUntil`). */
const statusText = (key) =>
  `${STATUS[key.status] ?? key.status}${key.statusUntil ? ` until ${when(key.statusUntil)}` : ""}`;

/** One provider's card; `base` is the route of whose keys it manages (the user's, or the team's). */
function card(provider, base = "/byok/keys", scope = "") {
  const input = el("input", {
    id: `key-${scope}${provider.id}`,
    name: "apiKey",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    autocapitalize: "off",
    required: true,
    minlength: 8,
    maxlength: 512,
    placeholder: "Paste your API key",
    "aria-describedby": `error-${scope}${provider.id}`,
  });
  const error = el("p", { class: "field-error", id: `error-${scope}${provider.id}`, role: "alert", hidden: true });
  const status = el("p", { class: "ok", role: "status", hidden: true });
  const save = el("button", { type: "submit" }, "Save key");
  // Checking re-validates the key a chat would use: the user's own (a team's key is checked by its members' chats).
  const check = el("button", { type: "button", class: "secondary", hidden: true }, "Check key");
  const remove = el("button", { type: "button", class: "danger", hidden: true }, "Delete key");
  const info = el("div", { class: "key-info" });
  // "Connect <provider>": a plain link (a top-level navigation there and back); the key never passes the page.
  const connect =
    provider.connect && !scope
      ? el(
          "p",
          { class: "row" },
          el(
            "a",
            {
              class: "button secondary",
              href: `/byok/connect/${provider.id}?returnTo=${encodeURIComponent(`/keys?connected=${provider.id}`)}`,
              "data-connect": provider.id,
            },
            `Connect ${provider.name}`,
          ),
          el("span", { class: "muted small" }, "sign in there instead of pasting a key"),
        )
      : undefined;
  const form = el(
    "form",
    { class: "stack", novalidate: true },
    el("label", { for: input.id }, "API key"),
    input,
    error,
    el("div", { class: "row" }, save, check, remove),
    status,
  );
  const section = el(
    "section",
    { class: "card provider", [scope ? "data-team-provider" : "data-provider"]: provider.id },
    el("h2", {}, provider.name),
    info,
    connect,
    form,
    el("p", { class: "muted small" }, `Where to find it: ${provider.where}`),
  );

  // The team's key for this provider, on the user's own card: it answers the user's chats while they have no key.
  let teamKey;
  const render = (key) => {
    info.replaceChildren(
      key
        ? el(
            "dl",
            {},
            el("dt", {}, "Saved key"),
            el("dd", { class: "hint", "data-field": "hint" }, key.hint),
            el("dt", {}, "Status"),
            el(
              "dd",
              { class: `status status-${key.status}`, "data-field": "status" },
              el("span", { class: `dot dot-${key.status}`, "aria-hidden": "true" }),
              statusText(key),
            ),
            el("dt", {}, "Added"),
            el("dd", {}, when(key.createdAt)),
            el("dt", {}, "Updated"),
            el("dd", {}, when(key.updatedAt)),
            el("dt", {}, "Last used"),
            el("dd", {}, when(key.lastUsedAt)),
          )
        : teamKey
          ? el(
              "p",
              { class: "covered", "data-field": "team-cover" },
              `No key of your own: your team's key ${teamKey.hint} answers your ${provider.name} chats. A key you save here takes its place for you.`,
            )
          : el("p", { class: "muted", "data-field": "none" }, "No key saved."),
    );
    save.textContent = key ? "Replace key" : "Save key";
    check.hidden = !key || base !== "/byok/keys";
    remove.hidden = !key;
  };
  const busy = (on) => {
    save.disabled = on;
    check.disabled = on;
    remove.disabled = on;
  };
  const done = (text) => {
    status.textContent = text;
    status.hidden = false;
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const apiKey = input.value.trim();
    input.value = ""; // the key leaves the page's memory as soon as it is sent
    showError(error, "");
    status.hidden = true;
    if (!apiKey) return showError(error, "Paste a key first.");
    busy(true);
    try {
      const key = await api(base, { method: "POST", body: { provider: provider.id, apiKey } });
      render(key);
      done(`Key ending ${key.hint.replace(/^…/, "")} checked with ${provider.name} and saved.`);
    } catch (failure) {
      showError(error, friendlyError(failure, "key"));
    } finally {
      busy(false);
    }
  });
  check.addEventListener("click", async () => {
    showError(error, "");
    status.hidden = true;
    busy(true);
    try {
      const key = await api("/byok/keys/check", { method: "POST", body: { provider: provider.id } });
      render(key);
      done(`Checked with ${provider.name}: ${statusText(key)}.`);
    } catch (failure) {
      showError(error, friendlyError(failure, "key"));
    } finally {
      busy(false);
    }
  });
  remove.addEventListener("click", async () => {
    showError(error, "");
    status.hidden = true;
    busy(true);
    try {
      await api(base, { method: "DELETE", body: { provider: provider.id } });
      render(undefined);
      done("Key deleted.");
    } catch (failure) {
      showError(error, friendlyError(failure, "key"));
    } finally {
      busy(false);
    }
  });
  /** Shows the team's key (or none) on the user's own card, then the user's own key (or none). */
  const renderWithTeam = (key, team) => {
    teamKey = team;
    render(key);
  };
  return { section, render, renderWithTeam, done };
}

async function main() {
  const user = await loadUser();
  const cards = new Map(PROVIDERS.map((p) => [p.id, card(p)]));
  list.replaceChildren(...[...cards.values()].map((c) => c.section));
  // The team's keys: shown to the team's admin only (members use them, and see which key answered on the chat page).
  const teamCards =
    user?.role === "admin" ? new Map(PROVIDERS.map((p) => [p.id, card(p, "/byok/team/keys", "team-")])) : undefined;
  if (teamCards) {
    document.getElementById("team-name").textContent = user.teamId;
    document.getElementById("team-providers").replaceChildren(...[...teamCards.values()].map((c) => c.section));
    document.getElementById("team").hidden = false;
  }
  try {
    const { keys, teamKeys = [] } = await api("/byok/keys");
    for (const [id, c] of cards)
      c.renderWithTeam(
        keys.find((k) => k.provider === id),
        teamKeys.find((k) => k.provider === id),
      );
    // Back from a connect flow: say so once, and drop the marker from the address bar.
    const query = new URLSearchParams(window.location.search);
    const connected = query.get("connected");
    const name = PROVIDERS.find((p) => p.id === connected)?.name;
    if (name && keys.some((k) => k.provider === connected)) {
      cards.get(connected).done(`Connected: ${name} sent your key, checked and saved.`);
      window.history.replaceState(null, "", "/keys");
    }
    // A connect flow that failed comes back with its code (byokRouter's errorRedirect): plain words, never URL text.
    const failed = query.get("byok_error");
    if (failed) {
      const bad = new Map([
        ["state", "that link was already used or is older than 10 minutes"],
        ["code", "it was not approved"],
      ]);
      const why =
        failed === "INVALID_REQUEST"
          ? `${bad.get(query.get("byok_error_fields")) ?? "the link was not valid"}. Click Connect again.`
          : friendlyError({ code: failed }, "key");
      showError(document.getElementById("page-error"), `Connecting your account did not finish: ${why}`);
      window.history.replaceState(null, "", "/keys");
    }
    if (teamCards) for (const [id, c] of teamCards) c.render(teamKeys.find((k) => k.provider === id));
  } catch (failure) {
    showError(document.getElementById("page-error"), friendlyError(failure));
  }
  document.body.dataset.ready = "true";
}

main().catch(() => {});
