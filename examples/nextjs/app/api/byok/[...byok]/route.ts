// byok-ai's routes (/api/byok/keys, /api/byok/chat, /api/byok/models, /api/byok/usage…) in one catch-all route.
import { byokHandler } from "byok-ai";
import { byok } from "../../../../lib/byok";
import { currentUserId } from "../../../../lib/session";

// byok-ai runs on Node.js only (its stores and vault use Node's crypto and TCP); the Edge runtime is refused.
export const runtime = "nodejs";

const handler = byokHandler({ byok, basePath: "/api/byok", getUserId: currentUserId });

export { handler as GET, handler as POST, handler as PATCH, handler as DELETE };
