// Reads the fenced code blocks of README.md, with their language, first line number and section heading.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const README = join(__dirname, "../../README.md");

/** One fenced block of README.md. */
export interface ReadmeBlock {
  /** The info string's first word: `ts`, `js`, `bash`… (empty when none). */
  lang: string;
  /** The block's text, without the fences. */
  code: string;
  /** README line number of the block's first code line (1-based). */
  line: number;
  /** The nearest heading above the block, without the `#`s. */
  heading: string;
}

/** Every fenced block of README.md, in order. */
export function readmeBlocks(text = readFileSync(README, "utf8")): ReadmeBlock[] {
  const blocks: ReadmeBlock[] = [];
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
    blocks.push({ lang: open[1]!, code: lines.slice(start, i).join("\n"), line: start + 1, heading });
  }
  return blocks;
}

/** The blocks under one heading, in one of the given languages; throws when there is none. */
export function blocksUnder(heading: string, langs: string[]): ReadmeBlock[] {
  const found = readmeBlocks().filter((b) => b.heading === heading && langs.includes(b.lang));
  if (found.length === 0) throw new Error(`README.md has no ${langs.join("/")} block under "${heading}".`);
  return found;
}

/**
 * Writes a README block as a TypeScript module that jest can load (`jest.requireActual(path)`), with `byok-ai`
 * and `byok-ai/testing` pointing at the sources under test. Returns its path and a remover.
 */
export function blockAsModule(block: ReadmeBlock, name: string): { path: string; remove: () => void } {
  const root = join(__dirname, "../..");
  const dir = join(root, ".tmp");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `readme-${name}-${process.pid}.ts`);
  const code = block.code.replace(/from "byok-ai(\/testing)?"/g, (_match, sub: string | undefined) =>
    JSON.stringify(join(root, "lib", sub ? "testing" : "")).replace(/^/, "from "),
  );
  writeFileSync(path, code);
  return { path, remove: () => rmSync(path, { force: true }) };
}
