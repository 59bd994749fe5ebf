#!/usr/bin/env node
// The byok-ai command line: keygen, rotate and verify (commander). Exit status: 0 good, 1 records failed, 2 could not run.
import { Command, CommanderError, Option } from "commander";
import { version } from "../../package.json";
import { ByokError } from "../errors.js";
import { generateMasterKey } from "../vault/master-key.js";
import { rotateCommand, verifyCommand } from "./commands.js";
import type { StoreFlags } from "./open-byok.js";
import { UsageError } from "./usage-error.js";
import { DEFAULT_BATCH_SIZE } from "../core/batch-size.js";

const ROTATION_STEPS = `
Rotating the master key, with no downtime:
  1. Generate a new key:  npx byok-ai keygen
  2. Deploy every app instance with BYOK_MASTER_KEY=<new key> and
     BYOK_PREVIOUS_MASTER_KEYS=<old key>: both decrypt, new keys are written under the new one.
  3. Run  npx byok-ai rotate  with the same environment. It is safe with live traffic and can be
     run again if interrupted.
  4. Run  npx byok-ai verify : when the old key id shows 0 records and nothing is unreadable
     (exit status 0), remove the old key from BYOK_PREVIOUS_MASTER_KEYS and redeploy.

Environment: REDIS_URL (with --prefix) or DATABASE_URL (with --table) names the store (--store redis|postgres
picks one when both are set); BYOK_MASTER_KEY;
BYOK_PREVIOUS_MASTER_KEYS (comma-separated).
A key service instead of an env master key: BYOK_VAULT_ADDR + BYOK_VAULT_TOKEN + BYOK_VAULT_KEY (Vault
transit; BYOK_PREVIOUS_VAULT_KEYS, comma-separated, names older transit keys), or BYOK_AWS_KMS_KEY_ID (AWS
KMS, with the usual AWS_REGION and credentials). That key then writes, and BYOK_MASTER_KEY and
BYOK_PREVIOUS_MASTER_KEYS still open old records, so one rotate moves them to it; with both Vault and AWS
KMS set, AWS KMS writes and Vault still opens. Progress goes to stderr (a live line on a terminal);
the summary to stdout (one JSON object with --json).

Exit status:
  0  done, and every record is readable (rotate: nothing failed; verify: nothing unreadable)
  1  done, but some records are unreadable by every known master key (verify lists them)
  2  could not run: usage or configuration error, or the store or key service cannot be reached
     (STORE_UNAVAILABLE, KEY_SERVICE_UNAVAILABLE; fix it and run again: rotation resumes where it stopped)`;

const print = (line: string) => void process.stdout.write(`${line}\n`);

function storeCommand(
  program: Command,
  name: string,
  description: string,
  run: (flags: StoreFlags) => Promise<number>,
): void {
  program
    .command(name)
    .description(description)
    .addOption(
      new Option("--store <kind>", "which store, when both REDIS_URL and DATABASE_URL are set").choices([
        "redis",
        "postgres",
      ]),
    )
    .addOption(new Option("--prefix <prefix>", 'Redis key prefix of the RedisStore (default "byok:")'))
    .addOption(new Option("--table <table>", 'PostgreSQL table of the PostgresStore (default "byok_keys")'))
    .addOption(new Option("--batch-size <n>", "records per batch").default(String(DEFAULT_BATCH_SIZE)))
    .option("--json", "print one JSON summary on stdout, no progress")
    .addHelpText("after", ROTATION_STEPS)
    .action(async (flags: StoreFlags) => {
      process.exitCode = await run(flags);
    });
}

async function main(argv: string[]): Promise<void> {
  const program = new Command("byok-ai")
    .description("byok-ai command line: master keys and stored-key maintenance")
    .version(version, "-V, --version", "print the version of byok-ai")
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      // Commander writes "error: unknown option '--x'"; every CLI error reads "byok-ai: <message>".
      outputError: (s, write) => write(`byok-ai: ${s.replace(/^error: /, "")}`),
    })
    .showHelpAfterError("(run `byok-ai --help` for usage)");
  program
    .command("keygen")
    .description("print a new random master key (base64, 32 bytes)")
    .action(() => print(generateMasterKey()));
  storeCommand(program, "rotate", "re-encrypt every stored key that is not under the current master key", (flags) =>
    rotateCommand(flags, print),
  );
  storeCommand(
    program,
    "verify",
    "decrypt every stored key; count records per master key id; list unreadable ones",
    (flags) => verifyCommand(flags, print),
  );
  program.addHelpText("after", ROTATION_STEPS);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    process.exitCode = 2;
    if (error instanceof UsageError || (ByokError.is(error) && error.code === "CONFIG_INVALID")) {
      process.stderr.write(`byok-ai: ${error.message}\n`);
    } else if (ByokError.is(error)) {
      const hint =
        error.code === "STORE_UNAVAILABLE"
          ? " Check REDIS_URL / DATABASE_URL and --prefix / --table."
          : error.code === "KEY_SERVICE_UNAVAILABLE"
            ? " Check BYOK_VAULT_ADDR / BYOK_VAULT_TOKEN or BYOK_AWS_KMS_KEY_ID and the AWS credentials; nothing more was done, run it again."
            : "";
      process.stderr.write(`byok-ai: ${error.code}: ${error.message}${hint}\n`);
    } else {
      // Never the error's message: it could carry a value. Its type is enough to report a bug.
      process.stderr.write(
        `byok-ai: unexpected failure (${error instanceof Error ? error.name : typeof error}); nothing more was done.\n`,
      );
    }
  }
}

void main(process.argv);
