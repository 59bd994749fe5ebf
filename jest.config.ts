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
  // Builds dist/ (quietly, only when stale) before any test: the example, CLI and package tests use the built package.
  globalSetup: "<rootDir>/test/global-setup.mjs",
  // Store tests share one Redis and one PostgreSQL; each file uses its own prefix/table, so files may run in parallel.
  maxWorkers: 2,
  reporters: ["default", "<rootDir>/test/helpers/summary-reporter.cjs"],
};

export default config;
