// Runs tsc on the type-level tests (test/tsconfig.type-tests.json): jest's ts-jest only strips types, so a test
// whose point is that something compiles, or that an @ts-expect-error line does not, is proved here.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

describe("the type-level tests", () => {
  it("compile with tsc, every @ts-expect-error line an error", async () => {
    const tsc = join(__dirname, "..", "node_modules", "typescript", "bin", "tsc");
    const config = join(__dirname, "tsconfig.type-tests.json");
    const result = await run(process.execPath, [tsc, "--noEmit", "-p", config]).catch(
      (error: { stdout: string; code: number }) => error,
    );
    expect(result.stdout).toBe("");
  }, 120_000);
});
