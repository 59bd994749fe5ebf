// Usage page: the signed-in user's usage rows (GET /byok/usage) and, for the team's admin, the team's (?team=1), as tables.
import { api, el, friendlyError, loadUser, PROVIDERS, showError } from "./api.js";

const providerName = (id) => PROVIDERS.find((p) => p.id === id)?.name ?? id;
const number = (n) => n.toLocaleString();

/** A table of usage rows, newest day first; `withUser` adds who made the calls (the team's table). */
function usageTable(rows, withUser) {
  if (rows.length === 0) return el("p", { class: "muted", "data-field": "none" }, "No usage in the last 30 days.");
  const head = ["Day", ...(withUser ? ["Member"] : []), "Provider", "Model"];
  const counts = ["Requests", "Input tokens", "Output tokens"];
  const line = (row) =>
    el(
      "tr",
      { "data-row": `${row.day} ${row.provider} ${row.model}` },
      el("td", {}, row.day),
      ...(withUser ? [el("td", {}, row.userId)] : []),
      el("td", {}, providerName(row.provider), row.teamId && !withUser ? el("span", { class: "tag" }, "team key") : ""),
      el("td", {}, row.model),
      el("td", { class: "num" }, number(row.requests)),
      el("td", { class: "num" }, row.estimated ? "≈ " : "", number(row.inputTokens)),
      el("td", { class: "num" }, row.estimated ? "≈ " : "", number(row.outputTokens)),
    );
  return el(
    "table",
    { class: "usage" },
    el(
      "thead",
      {},
      el("tr", {}, ...head.map((h) => el("th", {}, h)), ...counts.map((h) => el("th", { class: "num" }, h))),
    ),
    el("tbody", {}, ...[...rows].reverse().map(line)),
  );
}

/** Fills `target` with the rows of `path`; usage off on the server (CONFIG_INVALID) reads as a sentence. */
async function show(target, path, withUser) {
  try {
    const { usage } = await api(path);
    target.replaceChildren(usageTable(usage, withUser));
  } catch (failure) {
    if (failure.code === "CONFIG_INVALID")
      return target.replaceChildren(el("p", { class: "muted" }, "This server does not count usage."));
    showError(document.getElementById("page-error"), friendlyError(failure));
  }
}

async function main() {
  const user = await loadUser();
  const jobs = [show(document.getElementById("usage"), "/byok/usage", false)];
  // The team's usage: for its admin only (the router answers 403 FORBIDDEN to other members).
  if (user?.role === "admin") {
    document.getElementById("team-name").textContent = user.teamId;
    document.getElementById("team").hidden = false;
    jobs.push(show(document.getElementById("team-usage"), "/byok/usage?team=1", true));
  }
  await Promise.all(jobs);
  document.body.dataset.ready = "true";
}

main().catch(() => {});
