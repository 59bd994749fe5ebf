// Reads the fenced code blocks of the project's markdown (README.md, SECURITY.md, CONTRIBUTING.md, docs/*.md), with
// their language, first line number and section heading; and turns a block or an examples/ file into a module jest
// can load against the sources under test.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The repository's root. */
export const ROOT = join(__dirname, "../..");

/** One fenced block of a markdown file. */
export interface DocBlock {
  /** The markdown file, relative to the repository root (`README.md`, `docs/stores.md`…). */
  file: string;
  /** The info string's first word: `ts`, `js`, `bash`… (empty when none). */
  lang: string;
  /** The block's text, without the fences. */
  code: string;
  /** Line number, in its file, of the block's first code line (1-based). */
  line: number;
  /** The nearest heading above the block, without the `#`s. */
  heading: string;
}

/**
 * The markdown files whose blocks are checked, relative to the root: README.md, SECURITY.md, CONTRIBUTING.md and every
 * docs/*.md (so a new page is checked as soon as it exists).
 */
export function docFiles(): string[] {
  const docs = existsSync(join(ROOT, "docs")) ? readdirSync(join(ROOT, "docs")) : [];
  return [
    "README.md",
    "SECURITY.md",
    "CONTRIBUTING.md",
    ...docs
      .filter((name) => name.endsWith(".md"))
      .sort()
      .map((name) => `docs/${name}`),
  ].filter((file) => existsSync(join(ROOT, file)));
}

/** Every fenced block of one markdown file (path relative to the root), in order. */
export function markdownBlocks(file: string, text = readFileSync(join(ROOT, file), "utf8")): DocBlock[] {
  const blocks: DocBlock[] = [];
  const lines = text.split("\n");
  let heading = "";
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)/.exec(lines[i]!);
    if (!open) {
      const title = /^#{1,6} (.*)/.exec(lines[i]!);
      if (title) heading = title[1]!.trim();
      continue;
    }
    const start = i + 1;
    do i++;
    while (i < lines.length && !/^```\s*$/.test(lines[i]!));
    blocks.push({ file, lang: open[1]!, code: lines.slice(start, i).join("\n"), line: start + 1, heading });
  }
  return blocks;
}

/** The blocks of `file` under one heading, in one of the given languages; throws when there is none. */
export function blocksUnder(file: string, heading: string, langs: string[]): DocBlock[] {
  const found = markdownBlocks(file).filter((b) => b.heading === heading && langs.includes(b.lang));
  if (found.length === 0) throw new Error(`${file} has no ${langs.join("/")} block under "${heading}".`);
  return found;
}

/**
 * Writes TypeScript source (a doc block, or an examples/ file) as a module that jest can load
 * (`jest.requireActual(path)`), with `byok-ai`, `byok-ai/testing` and `byok-ai/extend` pointing at the sources under test. Returns its
 * path and a remover.
 */
export function sourceAsModule(code: string, name: string): { path: string; remove: () => void } {
  const dir = join(ROOT, ".tmp");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `doc-${name}-${process.pid}.ts`);
  const rewritten = code.replace(
    /(from |import )"byok-ai(?:\/(testing|extend))?"/g,
    (_match, keyword: string, sub: string | undefined) => `${keyword}${JSON.stringify(join(ROOT, "lib", sub ?? ""))}`,
  );
  writeFileSync(path, rewritten);
  return { path, remove: () => rmSync(path, { force: true }) };
}

/** An examples/ file as a module jest can load against the sources under test (see sourceAsModule). */
export function exampleAsModule(name: string): { path: string; remove: () => void } {
  return sourceAsModule(readFileSync(join(ROOT, "examples", name), "utf8"), name.replace(/\W/g, "-"));
}
