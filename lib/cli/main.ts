#!/usr/bin/env node
// The byok-ai command line: keygen (more commands arrive with rotation).
import { generateMasterKey } from "../vault/master-key.js";

const [command] = process.argv.slice(2);
if (command === "keygen") {
  console.log(generateMasterKey());
} else {
  console.error("Usage: byok-ai keygen");
  process.exitCode = 2;
}
