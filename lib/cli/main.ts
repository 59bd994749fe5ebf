#!/usr/bin/env node
// The byok-ai command line: keygen, rotate and verify (commander). Exit status: 0 good, 1 records failed, 2 usage.
import { Command, CommanderError, Option } from "commander";
import { ByokError } from "../errors.js";
import { generateMasterKey } from "../vault/master-key.js";
import { rotateCommand, verifyCommand } from "./commands.js";
import type { StoreFlags } from "./open-byok.js";
import { UsageError } from "./usage-error.js";

const ROTATION_STEPS = `
Rotating the master key, with no downtime:
  1. Generate a new key:  npx byok-ai keygen
  2. Deploy every app instance with BYOK_MASTER_KEY=<new key> and
     BYOK_PREVIOUS_MASTER_KEYS=<old key>: both decrypt, new keys are written under the new one.
  3. Run  npx byok-ai rotate  with the same environment. It is safe with live traffic and can be
     run again if interrupted.
  4. Run  npx byok-ai verify : when the old key id shows 0 records and nothing is unreadable
     (exit status 0), remove the old key from BYOK_PREVIOUS_MASTER_KEYS and redeploy.

Environment: REDIS_URL or DATABASE_URL names the store; BYOK_MASTER_KEY; BYOK_PREVIOUS_MASTER_KEYS
(comma-separated). Exit status: 0 all good, 1 some record failed or is unreadable, 2 usage error.`;

const print = (line: string) => void process.stdout.write(`${line}\n`);

function storeCommand(program: Command, name: string, description: string, run: (flags: StoreFlags) => Promise<number>): void {
  program
    .command(name)
    .description(description)
    .addOption(new Option("--prefix <prefix>", "Redis key prefix of the RedisStore (default \"byok:\")"))
    .addOption(new Option("--table <table>", "PostgreSQL table of the PostgresStore (default \"byok_keys\")"))
    .addOption(new Option("--batch-size <n>", "records per batch").default("500"))
    .option("--json", "print one JSON summary on stdout, no progress")
    .addHelpText("after", ROTATION_STEPS)
    .action(async (flags: StoreFlags) => {
      process.exitCode = await run(flags);
    });
}

async function main(argv: string[]): Promise<void> {
  const program = new Command("byok-ai")
    .description("byok-ai command line: master keys and stored-key maintenance")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError();
  program.command("keygen").description("print a new random master key (base64, 32 bytes)").action(() => print(generateMasterKey()));
  storeCommand(program, "rotate", "re-encrypt every stored key that is not under the current master key", (flags) => rotateCommand(flags, print));
  storeCommand(program, "verify", "decrypt every stored key; count records per master key id; list unreadable ones", (flags) => verifyCommand(flags, print));
  program.addHelpText("after", ROTATION_STEPS);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    if (error instanceof UsageError || (ByokError.is(error) && error.code === "CONFIG_INVALID")) {
      process.stderr.write(`byok-ai: ${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`byok-ai: ${ByokError.is(error) ? `${error.code}: ${error.message}` : "unexpected failure"}\n`);
    process.exitCode = 1;
  }
}

void main(process.argv);
