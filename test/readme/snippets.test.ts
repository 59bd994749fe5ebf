// Type-checks every ```ts / ```typescript / ```js / ```javascript block of README.md, SECURITY.md, CONTRIBUTING.md and
// every docs/*.md (a new page is picked up by itself), and every examples/*.ts / *.mjs file, against the built byok-ai,
// with skipLibCheck off (byok-ai's declarations, and the packages a block imports, are checked too).
//
// How a block gets what it needs (write blocks so that they pass under these rules):
// - Blocks are separate ES modules (`.mts`; `.mjs` for JavaScript), compiled together by one TypeScript program.
//   TypeScript blocks use `strict`. JavaScript blocks are checked too (`checkJs`, without `strict`): syntax, names,
//   imports and byok-ai's own types, but not properties JavaScript cannot declare (an app's `req.user`, a JSON body:
//   TS2339 and TS18046 are not reported for them).
// - `byok-ai`, `byok-ai/testing` and `byok-ai/extend` resolve to the built package (dist/, as an app installs it).
// - A name the block uses but neither imports nor declares is imported for it, in this order: from `byok-ai` if
//   it exports that name, from `byok-ai/testing` or `byok-ai/extend` if that does, or from THIRD_PARTY below
//   (express, supertest…).
//   So a block may leave out `import { BYOK } from "byok-ai"`, but anything it does import must exist.
// - PLACEHOLDERS below stand for what the reader's own app supplies (the user id, a form field, the request…).
//   They are imported like the names above, last, and only when missing: a block that declares the same name
//   itself simply uses its own. Add a placeholder only for such app-side values; never for byok-ai's own API (a
//   block must show where those come from).
// - LOCAL_MODULES below are stubs for files a block imports from the reader's project (`./my-store`).
// - A block that must not be compiled (pseudo-code, output, shell) is fenced with one of NOT_COMPILED's languages
//   (```text, ```bash…). A block with no language, or one this file does not know, fails: label it.
// - examples/ files are compiled as they are (no added imports, no placeholders), strictly, JavaScript included:
//   they are complete programs.
// - describe/it/expect are jest's globals (a README test block may also import them from node:test).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import ts from "typescript";
import { type DocBlock, docFiles, markdownBlocks } from "./readme-blocks";

const ROOT = resolve(__dirname, "../..");

/** Third-party imports a block may leave out, by the name it uses. */
const THIRD_PARTY: Record<string, string> = {
  express: 'import express from "express";',
  request: 'import request from "supertest";',
  Redis: 'import { Redis } from "ioredis";',
  Cluster: 'import { Cluster } from "ioredis";',
  Pool: 'import { Pool } from "pg";',
};

/** App-side values README blocks refer to without defining them, with their types. */
const PLACEHOLDERS: Record<string, string> = {
  app: "Express",
  byok: "BYOK",
  store: "KeyStore",
  userId: "string",
  apiKey: "string",
  keyFromTheForm: "string",
  userFromSession: "(req: Request) => { id: string } | undefined",
  signal: "AbortSignal",
  req: "Request",
  res: "Response",
  controller: "AbortController",
  output: "{ textContent: string | null }",
  // docs/fetch-handler.md: the app's session (Auth.js's auth(), its own lookup), and the Bun and Deno runtimes' globals.
  auth: "() => Promise<{ user?: { id?: string } } | null>",
  sessionUserId: "(request: globalThis.Request) => Promise<string | undefined>",
  Bun: "{ serve(options: { port?: number; fetch: (request: globalThis.Request) => Promise<globalThis.Response> }): unknown }",
  Deno: "{ serve(options: { port?: number }, handler: (request: globalThis.Request) => Promise<globalThis.Response>): unknown }",
};
const PLACEHOLDER_TYPES = `import type { Express, Request, Response } from "express";
import type { BYOK } from "byok-ai";
import type { KeyStore } from "byok-ai/extend";
${Object.entries(PLACEHOLDERS)
  .map(([name, type]) => `export declare const ${name}: ${type};`)
  .join("\n")}
`;

/** Stand-ins for modules of the reader's own project that blocks import. */
const LOCAL_MODULES: Record<string, string> = {
  "my-store.ts": `import type { KeyStore, UsageStore } from "byok-ai/extend";
export declare class MyStore implements KeyStore {
  constructor(options: { url?: string; namespace?: string });
  get: KeyStore["get"]; list: KeyStore["list"]; put: KeyStore["put"]; delete: KeyStore["delete"];
  deleteUser: KeyStore["deleteUser"]; touch: KeyStore["touch"]; scan: KeyStore["scan"];
  compareAndSwap: KeyStore["compareAndSwap"]; close(): Promise<void>;
}
export declare class MyUsage implements UsageStore {
  constructor(url?: string);
  add: UsageStore["add"]; read: UsageStore["read"]; deleteOwner: UsageStore["deleteOwner"]; close(): Promise<void>;
}
`,
  // docs/stores.md's Prisma store: the example file itself, and an app's PrismaClient with the ByokKey model.
  "prisma-key-store.ts": 'export * from "../../examples/prisma-key-store.js";\n',
  "db.ts": `import type { ByokKeyDelegate } from "./prisma-key-store.js";
export declare const prisma: { byokKey: ByokKeyDelegate };
`,
  // docs/extending.md's Cohere provider and its fake: the example files themselves.
  "cohere-provider.ts": 'export * from "../../examples/cohere-provider.js";\n',
  "cohere-fake.ts": 'export * from "../../examples/cohere-fake.js";\n',
};

const LANGS: Record<string, "ts" | "js"> = { ts: "ts", typescript: "ts", js: "js", javascript: "js" };
/** Languages of blocks that are shown, not compiled. */
const NOT_COMPILED = new Set(["text", "bash", "sh", "console", "sql", "prisma", "json", "http"]);
const allBlocks = docFiles().flatMap((file) => markdownBlocks(file));
const blocks = allBlocks.filter((b) => b.lang in LANGS);
const where = (b: DocBlock) => `${b.file}:${b.line}`;
const fileOf = (b: DocBlock) =>
  `${b.file.replace(/\.md$/, "").replace(/\W/g, "-")}-line-${b.line}.${LANGS[b.lang] === "ts" ? "mts" : "mjs"}`;
/** The examples/ programs, compiled as they are. */
const EXAMPLES = join(ROOT, "examples");
const examples = readdirSync(EXAMPLES)
  .filter((name) => /\.(ts|mts|mjs)$/.test(name))
  .map((name) => join(EXAMPLES, name));

const BASE: ts.CompilerOptions = {
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2022,
  // The AI SDK's and openai's declarations use the DOM's fetch types (HeadersInit, RequestCredentials, FileList…), as
  // they do in an app that imports them.
  lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
  types: ["node", "jest"],
  skipLibCheck: false,
  noEmit: true,
  allowJs: true,
  checkJs: true,
};

/** Codes not reported for JavaScript blocks: properties of values whose shape JavaScript cannot declare. */
const JS_IGNORED = new Set([2339, 18046]);

/**
 * Third-party declarations that fail a strict check on their own (skipLibCheck is off, so every declaration file a
 * block reaches is checked, byok-ai's first): @ai-sdk/google 3.0.141's index.d.ts declares optional properties next
 * to a JSON index signature (TS2411 under strictNullChecks). Not ours to fix; nothing else is ignored.
 */
const BROKEN_DECLARATIONS = [/\/node_modules\/@ai-sdk\/google\/dist\/index\.d\.ts$/];

/** The diagnostics of a program, without those of BROKEN_DECLARATIONS. */
const diagnosticsOf = (program: ts.Program) =>
  ts
    .getPreEmitDiagnostics(program)
    .filter((d) => !(d.file && BROKEN_DECLARATIONS.some((file) => file.test(d.file!.fileName))));

/** The two programs of the last compile, reused by the next one (TypeScript then skips unchanged files). */
let previous: (ts.Program | undefined)[] = [];

/**
 * Compiles the block files, with the examples/ files, in two programs: TypeScript blocks and every example strictly,
 * JavaScript blocks without strict. `full` returns every diagnostic, declaration files included (the slow part);
 * otherwise only the block files' own (enough to find the names they miss).
 */
function compile(files: string[], full: boolean): ts.Diagnostic[] {
  const programs = [
    ts.createProgram({
      rootNames: [...files.filter((f) => f.endsWith(".mts")), ...examples],
      options: { ...BASE, strict: true },
      oldProgram: previous[0],
    }),
    ts.createProgram({
      rootNames: files.filter((f) => f.endsWith(".mjs")),
      options: { ...BASE, strict: false },
      oldProgram: previous[1],
    }),
  ];
  previous = programs;
  const diagnostics = full
    ? programs.flatMap(diagnosticsOf)
    : programs.flatMap((program) =>
        files.flatMap((file) => {
          const source = program.getSourceFile(file);
          return source ? program.getSemanticDiagnostics(source) : [];
        }),
      );
  const inBlocks = new Set(files);
  return diagnostics.filter(
    (d) => !(d.file && inBlocks.has(d.file.fileName) && d.file.fileName.endsWith(".mjs") && JS_IGNORED.has(d.code)),
  );
}

/** The names `byok-ai`, `byok-ai/testing` and `byok-ai/extend` export, read from their built type declarations. */
function exportsOf(dir: string): Map<string, string> {
  const probe = join(dir, "exports-probe.mts");
  writeFileSync(
    probe,
    'import * as main from "byok-ai";\nimport * as testing from "byok-ai/testing";\nimport * as extend from "byok-ai/extend";\n',
  );
  const program = ts.createProgram([probe], { ...BASE, strict: true });
  const checker = program.getTypeChecker();
  const names = new Map<string, string>();
  for (const statement of program.getSourceFile(probe)!.statements) {
    if (!ts.isImportDeclaration(statement)) continue;
    const module = checker.getSymbolAtLocation(statement.moduleSpecifier);
    if (!module) throw new Error(`${statement.moduleSpecifier.getText()} does not resolve: is dist/ built?`);
    const from = (statement.moduleSpecifier as ts.StringLiteral).text;
    for (const symbol of checker.getExportsOfModule(module)) if (!names.has(symbol.name)) names.set(symbol.name, from);
  }
  return names;
}

const missingName = (d: ts.Diagnostic) =>
  /(?:Cannot find name|No value exists in scope for the shorthand property) '([^']+)'/.exec(
    ts.flattenDiagnosticMessageText(d.messageText, "\n"),
  )?.[1];

describe("code blocks of README.md, SECURITY.md, CONTRIBUTING.md and docs/*.md, and examples/", () => {
  const dir = join(ROOT, ".tmp", `readme-snippets-${process.pid}`);
  /** Problems per block file or example, with markdown (or example) line numbers; "(setup)" for anything else. */
  const problems = new Map<string, string[]>();
  const report = (key: string, problem: string) => problems.set(key, [...(problems.get(key) ?? []), problem]);

  beforeAll(() => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "placeholders.d.mts"), PLACEHOLDER_TYPES);
    for (const [file, text] of Object.entries(LOCAL_MODULES)) writeFileSync(join(dir, file), text);
    const exported = exportsOf(dir);
    const files = blocks.map((b) => join(dir, fileOf(b)));

    // First pass: which names does each block use without importing or declaring them?
    blocks.forEach((b, i) => writeFileSync(files[i]!, `export {};\n${b.code}\n`));
    const missing = new Map<string, Set<string>>();
    for (const d of compile(files, false)) {
      const [file, name] = [d.file?.fileName, missingName(d)];
      if (file && name) missing.set(file, (missing.get(file) ?? new Set()).add(name));
    }

    // Second pass: the same blocks with a header importing those names.
    const headerLines = new Map<string, number>();
    blocks.forEach((b, i) => {
      const file = files[i]!;
      const header = ["export {};"];
      const byModule = new Map<string, string[]>();
      const add = (from: string, name: string) => byModule.set(from, [...(byModule.get(from) ?? []), name]);
      for (const name of missing.get(file) ?? []) {
        const from = exported.get(name);
        if (from) add(from, name);
        else if (THIRD_PARTY[name]) header.push(THIRD_PARTY[name]);
        else if (PLACEHOLDERS[name]) add("./placeholders.mjs", name);
      }
      for (const [from, names] of byModule) header.push(`import { ${names.join(", ")} } from "${from}";`);
      headerLines.set(file, header.length);
      writeFileSync(file, `${header.join("\n")}\n${b.code}\n`);
    });
    for (const d of compile(files, true)) {
      const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
      const file = d.file?.fileName;
      const { line } = d.file?.getLineAndCharacterOfPosition(d.start ?? 0) ?? { line: 0 };
      if (file && headerLines.has(file)) {
        const block = blocks[files.indexOf(file)]!;
        const hint = missingName(d)
          ? " (import or declare it in the block; see the top of test/readme/snippets.test.ts)"
          : "";
        report(
          fileOf(block),
          `${block.file}:${block.line + line - headerLines.get(file)!}: TS${d.code} ${message}${hint}`,
        );
      } else if (file && examples.includes(file)) {
        report(file, `${file.slice(ROOT.length + 1)}:${line + 1}: TS${d.code} ${message}`);
      } else report("(setup)", `${file ?? ""}:${line + 1}: TS${d.code} ${message}`);
    }
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("finds the docs' TypeScript and JavaScript blocks and the examples, with no other problem", () => {
    expect(docFiles()).toEqual(expect.arrayContaining(["README.md", "SECURITY.md", "CONTRIBUTING.md"]));
    expect(docFiles().filter((f) => f.startsWith("docs/")).length).toBeGreaterThan(5);
    expect(blocks.length).toBeGreaterThan(10);
    expect(examples.length).toBeGreaterThanOrEqual(3);
    expect(problems.get("(setup)")).toBeUndefined();
  });

  it("labels every block with a language it either compiles or knows not to", () => {
    const unlabelled = allBlocks.filter((b) => !(b.lang in LANGS) && !NOT_COMPILED.has(b.lang));
    expect(unlabelled.map((b) => `${where(b)}: \`\`\`${b.lang} (use ts, js, or text)`)).toEqual([]);
  });

  it.each(blocks.map((b) => [where(b), b.lang, b.heading, b] as const))(
    "the block at %s (%s, under “%s”) compiles",
    (_where, _lang, _heading, block) => {
      expect(problems.get(fileOf(block)) ?? []).toEqual([]);
    },
  );

  it.each(examples.map((file) => [file.slice(ROOT.length + 1), file] as const))(
    "%s compiles as it is (strict, skipLibCheck off)",
    (_name, file) => {
      expect(problems.get(file) ?? []).toEqual([]);
    },
  );
});
