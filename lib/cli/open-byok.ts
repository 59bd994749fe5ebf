// Builds the BYOK instance the CLI commands use, from BYOK_MASTER_KEY, BYOK_PREVIOUS_MASTER_KEYS and the store flags.
import { BYOK } from "../byok.js";
import { checkBatchSize } from "../core/batch-size.js";
import { ByokError } from "../errors.js";
import { type StoreKind, storeFromEnv } from "./store-from-env.js";
import { UsageError } from "./usage-error.js";

/** Shared flags of `rotate` and `verify`. */
export interface StoreFlags {
  store?: StoreKind;
  prefix?: string;
  table?: string;
  json?: boolean;
  batchSize?: string;
}

/** @throws UsageError for a missing or malformed environment */
export function openByok(env: NodeJS.ProcessEnv, flags: StoreFlags): { byok: BYOK; label: string; batchSize: number } {
  if (!env.BYOK_MASTER_KEY)
    throw new UsageError("Set BYOK_MASTER_KEY to the current master key (generate one with `npx byok-ai keygen`).");
  const previous = (env.BYOK_PREVIOUS_MASTER_KEYS ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter(Boolean);
  let batchSize: number;
  try {
    batchSize = checkBatchSize(flags.batchSize === undefined ? undefined : Number(flags.batchSize));
  } catch (error) {
    throw new UsageError((error as Error).message.replace("batchSize", "--batch-size"));
  }
  const { store, label } = storeFromEnv(env, flags);
  try {
    return {
      byok: new BYOK({ masterKey: env.BYOK_MASTER_KEY, previousMasterKeys: previous, store }),
      label,
      batchSize,
    };
  } catch (error) {
    if (ByokError.is(error)) {
      throw new UsageError(
        error.message
          .replace("masterKey", "BYOK_MASTER_KEY")
          .replace(/previousMasterKeys\[(\d+)\]/, "BYOK_PREVIOUS_MASTER_KEYS entry $1"),
      );
    }
    throw error;
  }
}
