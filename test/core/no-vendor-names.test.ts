// The core names no vendor: what is particular to one lives in its module under lib/providers/ (comments may name them).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";

const CORE = join(__dirname, "..", "..", "lib", "core");
const VENDOR = /openai|anthropic|gemini|google|goog-|openrouter|azure|bedrock|vertex/i;

/** Every identifier, string, template part and regular expression of `source` that names a vendor, as `line: text`. */
function vendorNames(source: string): string[] {
  const file = ts.createSourceFile("core.ts", source, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    const named =
      ts.isIdentifier(node) ||
      ts.isPrivateIdentifier(node) ||
      ts.isLiteralExpression(node) ||
      ts.isTemplateLiteralToken(node);
    if (named && VENDOR.test(node.getText(file))) {
      const { line } = file.getLineAndCharacterOfPosition(node.getStart(file));
      found.push(`${line + 1}: ${node.getText(file).slice(0, 80)}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe("lib/core", () => {
  it.each(readdirSync(CORE).filter((name) => name.endsWith(".ts")))("%s names no vendor outside comments", (name) => {
    expect(vendorNames(readFileSync(join(CORE, name), "utf8"))).toEqual([]);
  });
});
