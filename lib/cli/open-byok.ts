// Builds the BYOK instance the CLI commands use, from the key variables (master keys, Vault, AWS KMS) and the store flags.
import { BYOK } from "../byok.js";
import type { ByokOptions } from "../core/options.js";
import { awsKms } from "../kms/aws-kms.js";
import { vaultTransit } from "../kms/vault-transit.js";
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

const VAULT_VARIABLES = ["BYOK_VAULT_ADDR", "BYOK_VAULT_TOKEN", "BYOK_VAULT_KEY"] as const;

const list = (value: string | undefined) =>
  (value ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter(Boolean);

/**
 * The keys from the environment. BYOK_MASTER_KEY alone: today's master key. With Vault
 * (BYOK_VAULT_ADDR + BYOK_VAULT_TOKEN + BYOK_VAULT_KEY) or AWS KMS (BYOK_AWS_KMS_KEY_ID), that key
 * writes, and BYOK_MASTER_KEY / BYOK_PREVIOUS_MASTER_KEYS still open old records; with both, AWS KMS
 * writes and Vault still opens (moving Vault → KMS). BYOK_PREVIOUS_VAULT_KEYS names older transit keys
 * on the same Vault (moving key v1 → v2).
 */
function keysFromEnv(
  env: NodeJS.ProcessEnv,
): Pick<ByokOptions, "masterKey" | "previousMasterKeys" | "keyEncryption" | "previousKeyEncryption"> {
  const vaultSet = VAULT_VARIABLES.filter((name) => env[name]);
  if (vaultSet.length > 0 && vaultSet.length < VAULT_VARIABLES.length)
    throw new UsageError(
      `Vault transit needs ${VAULT_VARIABLES.join(", ")}; missing ${VAULT_VARIABLES.filter((n) => !env[n]).join(", ")}.`,
    );
  const vaultAt = (keyName: string) =>
    vaultTransit({ url: env.BYOK_VAULT_ADDR!, token: env.BYOK_VAULT_TOKEN!, keyName });
  const vault = vaultSet.length
    ? [vaultAt(env.BYOK_VAULT_KEY!), ...list(env.BYOK_PREVIOUS_VAULT_KEYS).map(vaultAt)]
    : [];
  const kms = env.BYOK_AWS_KMS_KEY_ID ? [awsKms({ keyId: env.BYOK_AWS_KMS_KEY_ID })] : [];
  const previousMasterKeys = list(env.BYOK_PREVIOUS_MASTER_KEYS);
  const [current, ...previous] = [...kms, ...vault];
  if (!current) {
    if (!env.BYOK_MASTER_KEY)
      throw new UsageError(
        "Set BYOK_MASTER_KEY to the current master key (generate one with `npx byok-ai keygen`), or a key service: BYOK_VAULT_ADDR + BYOK_VAULT_TOKEN + BYOK_VAULT_KEY, or BYOK_AWS_KMS_KEY_ID.",
      );
    return { masterKey: env.BYOK_MASTER_KEY, previousMasterKeys };
  }
  return {
    keyEncryption: current,
    previousKeyEncryption: previous,
    previousMasterKeys: [...(env.BYOK_MASTER_KEY ? [env.BYOK_MASTER_KEY] : []), ...previousMasterKeys],
  };
}

/** A configuration message in the environment's terms (the variables to fix, not the options). */
function inEnvTerms(message: string): string {
  return message
    .replace("masterKey", "BYOK_MASTER_KEY")
    .replace(/previousMasterKeys\[(\d+)\]/, "BYOK_PREVIOUS_MASTER_KEYS entry $1")
    .replace(/^vaultTransit\(\)/, "Vault transit (BYOK_VAULT_*)")
    .replace(/^awsKms\(\)/, "AWS KMS (BYOK_AWS_KMS_KEY_ID)");
}

/** @throws UsageError for a missing or malformed environment */
export function openByok(env: NodeJS.ProcessEnv, flags: StoreFlags): { byok: BYOK; label: string; batchSize: number } {
  let batchSize: number;
  try {
    batchSize = checkBatchSize(flags.batchSize === undefined ? undefined : Number(flags.batchSize));
  } catch (error) {
    throw new UsageError((error as Error).message.replace("batchSize", "--batch-size"));
  }
  let keys: ReturnType<typeof keysFromEnv>;
  try {
    keys = keysFromEnv(env);
  } catch (error) {
    if (ByokError.is(error)) throw new UsageError(inEnvTerms(error.message));
    throw error;
  }
  const { store, label } = storeFromEnv(env, flags);
  try {
    return {
      byok: new BYOK({ ...keys, store }),
      label,
      batchSize,
    };
  } catch (error) {
    if (ByokError.is(error)) throw new UsageError(inEnvTerms(error.message));
    throw error;
  }
}
