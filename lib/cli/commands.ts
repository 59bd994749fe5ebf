// The rotate and verify commands: run on the configured store, print a summary, return the exit status.
import { openByok, type StoreFlags } from "./open-byok.js";
import { plural } from "./plural.js";
import { createProgress } from "./progress.js";

type Print = (line: string) => void;

const EMPTY = "No records found: check that --prefix / --table name the store your app uses.";
/** Why records are usually unreadable after a deploy: the key they were written under was dropped too early. */
const MISSING_KEY =
  "The master key they were written under is probably missing from BYOK_PREVIOUS_MASTER_KEYS: add it there, then run `byok-ai rotate`.";

/** `byok-ai rotate`: 0 when nothing failed, 1 when some record is unreadable by every key. */
export async function rotateCommand(flags: StoreFlags, print: Print, env = process.env): Promise<number> {
  const { byok, label, batchSize } = openByok(env, flags);
  const progress = createProgress("Rotating", { json: flags.json === true });
  try {
    const result = await byok.rotate({ batchSize, onProgress: (p) => progress.update({ ...p }) });
    progress.stop();
    if (flags.json) print(JSON.stringify({ store: label, ...result }));
    else {
      print(
        `Rotated ${result.rotated} of ${plural(result.scanned, "record")} in ${label} (${result.skipped} skipped: already current or changed meanwhile; ${result.failed} failed).`,
      );
      if (result.failed) {
        print(
          `${plural(result.failed, "record")} could not be decrypted by any known master key (left untouched); \`byok-ai verify\` lists them.`,
        );
        print(MISSING_KEY);
      }
      if (!result.scanned) print(EMPTY);
    }
    return result.failed ? 1 : 0;
  } finally {
    progress.stop();
    await byok.close();
  }
}

/** `byok-ai verify`: 0 when every record decrypts, 1 otherwise. */
export async function verifyCommand(flags: StoreFlags, print: Print, env = process.env): Promise<number> {
  const { byok, label, batchSize } = openByok(env, flags);
  const progress = createProgress("Verifying", { json: flags.json === true });
  try {
    const result = await byok.verify({
      batchSize,
      onProgress: (scanned) => progress.update({ scanned }),
    });
    progress.stop();
    if (flags.json) print(JSON.stringify({ store: label, ...result }));
    else {
      print(`Verified ${plural(result.scanned, "record")} in ${label}.`);
      result.keyIds.forEach((id, i) =>
        print(`  ${id} (${i === 0 ? "current" : `previous #${i}`}): ${plural(result.byKeyId[id] ?? 0, "record")}`),
      );
      print(`  unreadable: ${plural(result.unreadable.length, "record")}`);
      if (!result.scanned) print(EMPTY);
      // JSON-quoted so an odd user id cannot inject terminal control sequences.
      for (const r of result.unreadable)
        print(
          `    ${"teamId" in r ? `team ${JSON.stringify(r.teamId)}` : `user ${JSON.stringify(r.userId)}`} provider ${r.provider}${r.keyId ? ` (key id ${r.keyId})` : ""}`,
        );
      if (result.unreadable.some((r) => r.keyId !== undefined && !result.keyIds.includes(r.keyId))) print(MISSING_KEY);
    }
    return result.unreadable.length ? 1 : 0;
  } finally {
    progress.stop();
    await byok.close();
  }
}
