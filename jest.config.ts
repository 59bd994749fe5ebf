// Jest runs the TypeScript sources directly (ts-jest, CommonJS), so tests exercise lib/ as written.
import type { Config } from "jest";

const config: Config = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json", diagnostics: false }] },
  // Sources import with ".js" (NodeNext); map them back to the .ts files.
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  testTimeout: 30_000,
  // Builds dist/ (quietly, only when stale) before any test, and starts the suite's own Redis and PostgreSQL on free
  // ports (REDIS_URL, DATABASE_URL); the teardown stops them. The machine's own servers are never used.
  globalSetup: "<rootDir>/test/global-setup.ts",
  globalTeardown: "<rootDir>/test/global-teardown.ts",
  // Any connection outside loopback fails the test that made it.
  setupFilesAfterEnv: ["<rootDir>/test/setup/loopback-only.ts", "<rootDir>/test/setup/no-keep-alive.ts"],
  // Store tests share the suite's Redis and PostgreSQL; each file uses its own prefix/table, so files may run in parallel.
  maxWorkers: 2,
  reporters: ["default", "<rootDir>/test/helpers/summary-reporter.cjs"],
};

export default config;
