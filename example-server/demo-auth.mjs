// DEMO AUTH ONLY: "log in" by typing any user name. Replace with your real login (passport, OIDC, ...).
// It shows what byok-ai needs from your auth: `req.user = { id }` on every signed-in request, plus, for team
// keys, the user's team and whether they may manage its keys (here `teamId` and `role`, for alice and bob).
import cookieSession from "cookie-session";
import express from "express";

/** User names the demo accepts: they become byok-ai user ids. */
const USER_NAME = /^[A-Za-z0-9_.-]{1,40}$/;

/**
 * The demo's one team, as your app's own membership data would say it: alice is its admin (she may add
 * and remove the team's keys), bob a member (he uses them). Everyone else is in no team.
 */
export const DEMO_TEAM = Object.freeze({ id: "demo-team", members: { alice: "admin", bob: "member" } });

/**
 * Demo login/logout and `req.user`, from a signed session cookie (cookie-session: HMAC-signed,
 * httpOnly, SameSite=Lax). Anyone can sign in as anyone: this is NOT authentication. Lax, not Strict: the
 * "Connect OpenRouter" flow comes back from openrouter.ai with a top-level GET, and a Strict cookie is not sent
 * on a navigation another site started, so the callback would find nobody signed in. (Lax still keeps the
 * cookie off cross-site POSTs, and the callback refuses a state another user started.)
 * @param {{ secret: string, secure: boolean }} options
 */
export function demoAuth({ secret, secure }) {
  const router = express.Router();
  router.use(
    cookieSession({
      name: "byok_demo",
      keys: [secret],
      httpOnly: true,
      sameSite: "lax",
      secure,
      maxAge: 8 * 60 * 60 * 1000,
    }),
  );
  router.use((req, _res, next) => {
    const id = req.session?.userId;
    if (typeof id === "string" && USER_NAME.test(id)) {
      const role = DEMO_TEAM.members[id];
      req.user = role ? { id, teamId: DEMO_TEAM.id, role } : { id };
    }
    next();
  });
  router.post("/login", express.urlencoded({ extended: false, limit: "1kb" }), (req, res) => {
    const name = typeof req.body?.name === "string" ? req.body.name.trim() : "";
    if (!USER_NAME.test(name)) return res.redirect(303, "/?error=name");
    req.session = { userId: name };
    res.redirect(303, "/keys");
  });
  router.post("/logout", (req, res) => {
    req.session = null;
    res.redirect(303, "/");
  });
  router.get("/api/me", (req, res) => {
    res.set("Cache-Control", "no-store");
    if (!req.user) return res.status(401).json({ error: { code: "UNAUTHENTICATED", message: "Sign in first." } });
    res.json({ user: req.user, demoAuth: true });
  });
  return router;
}

/** Pages that need a signed-in user send everyone else to the login page. */
export function requireLogin(req, res, next) {
  if (!req.user) return res.redirect(303, "/");
  next();
}
