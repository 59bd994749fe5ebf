// AiClient.models: the models a user's key can use, from the provider's list-models API.
import { type CoreContext, sealContextOf } from "./context.js";
import { callWithDeadline } from "./deadline.js";
import { startOperation } from "./events.js";
import { resolveKey } from "./key-choice.js";
import { noteKeyOutcome } from "./key-health.js";
import type { ModelInfo, ProviderModel } from "./types.js";
import { checkProviderId } from "./validate.js";

/** The most models one listing returns (providers list a few dozen; this bounds a runaway pagination). */
export const MAX_LISTED_MODELS = 1000;

const isModel = (m: unknown): m is ProviderModel =>
  typeof m === "object" && m !== null && typeof (m as ProviderModel).id === "string" && (m as ProviderModel).id !== "";

/**
 * Lists the models `userId`'s key for `requested` (or the provider chosen as for a chat) can use.
 * A provider without `listModels` answers its `defaultModel` alone: the one model byok-ai knows
 * it serves (never UNKNOWN_PROVIDER for a configured provider). The call has the provider's `timeoutMs`; failures map as a chat's do (KEY_REJECTED…).
 *
 * @throws ByokError UNKNOWN_PROVIDER, KEY_NOT_FOUND, KEY_UNREADABLE, KEY_REJECTED, PROVIDER_*, STORE_UNAVAILABLE
 */
export async function listModels(context: CoreContext, userId: string, requested?: string): Promise<ModelInfo[]> {
  const operation = startOperation(context.requestId);
  const resolved = await resolveKey(context, userId, requested === undefined ? undefined : checkProviderId(requested));
  const { id, provider, record } = resolved;
  if (!provider.listModels) return [{ id: provider.defaultModel, provider: id }];
  const apiKey = await context.vault.open(record.ciphertext, sealContextOf(record));
  const { endpoint } = record;
  let listed: ProviderModel[];
  try {
    listed = await callWithDeadline(provider, id, context.signal, (signal) =>
      provider.listModels!({ apiKey, signal, endpoint }),
    );
  } catch (error) {
    noteKeyOutcome(context, operation, userId, resolved, { error }); // a listing teaches key health as a chat does
    throw error;
  }
  noteKeyOutcome(context, operation, userId, resolved, "ok");
  return (Array.isArray(listed) ? listed : [])
    .filter(isModel)
    .slice(0, MAX_LISTED_MODELS)
    .map((m) => ({
      id: m.id,
      provider: id,
      ...(typeof m.displayName === "string" ? { displayName: m.displayName } : {}),
    }));
}
