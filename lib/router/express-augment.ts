// Declaration merging that types `req.ai` in the app's own handlers once byok-ai is imported.
import type { AiClient } from "../core/types.js";

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /**
       * AI calls with the signed-in user's own keys, attached by `byokRouter` to every request
       * that passes through it. Without a user every call rejects with `UNAUTHENTICATED`.
       */
      ai: AiClient;
    }
  }
}

// A module (not a script), so `declare global` merges into the app's Express types.
export {};
