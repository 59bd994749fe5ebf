// Every relative link of README.md, SECURITY.md, CONTRIBUTING.md and docs/*.md reaches a file of the repository, and
// every #anchor a heading of that file (as GitHub makes heading anchors), so a page that moves or a heading that is
// renamed cannot leave a dead link behind.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { docFiles, ROOT } from "./readme-blocks";

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");

/** The anchors of a markdown file's headings (outside code blocks). */
function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  let inCode = false;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.startsWith("```")) inCode = !inCode;
    const heading = !inCode && /^#{1,6} (.*)/.exec(line);
    if (heading) anchors.add(anchorOf(heading[1]!));
  }
  return anchors;
}

/** The `[text](target)` links of a markdown file, outside code blocks and inline code. */
function linksOf(file: string): string[] {
  let inCode = false;
  const links: string[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.startsWith("```")) inCode = !inCode;
    if (inCode) continue;
    for (const match of line.replace(/`[^`]*`/g, "").matchAll(/\]\(([^)\s]+)\)/g)) links.push(match[1]!);
  }
  return links;
}

describe("links between the docs", () => {
  it.each(docFiles())("every relative link of %s reaches a file and a heading", (doc) => {
    const from = join(ROOT, doc);
    const dead = linksOf(from)
      .filter((link) => !/^[a-z]+:/.test(link))
      .filter((link) => {
        const [path, anchor] = link.split("#") as [string, string | undefined];
        const target = path ? join(dirname(from), path) : from;
        if (!existsSync(target) || relative(ROOT, target).startsWith("..")) return true;
        return anchor !== undefined && target.endsWith(".md") && !anchorsOf(target).has(anchor);
      });
    expect(dead).toEqual([]);
  });
});
