// 200 concurrent chats of 20 tokens each, alternating between two BYOK instances that share their stores: what a
// budget test drives to prove the budget holds across instances.
import { type BYOK, ByokError } from "../../lib";

/**
 * Sends `count` chats for `userId` at once, every other one through `b`, each reserving ceil(2 / 3) + 8 + 11 = 20
 * tokens (the fake must charge 9 + 11). Each outcome is the served chat's total tokens, or the refusal's code.
 */
export function concurrentChats([a, b]: [BYOK, BYOK], userId: string, count = 200): Promise<unknown[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      (i % 2 ? a : b)
        .use(userId)
        .chat({ prompt: "hi", maxTokens: 11 })
        .then(
          (r) => r.usage.totalTokens,
          (e: unknown) => (ByokError.is(e) ? e.code : e),
        ),
    ),
  );
}
