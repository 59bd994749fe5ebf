// Runs docs/testing.md's supertest example ("Testing your app") as written, against the sources under test.
import { blocksUnder, sourceAsModule } from "./readme-blocks";

const block = blocksUnder("docs/testing.md", "Testing your app: `byok-ai/testing`", ["ts"]).find((b) =>
  b.code.includes("supertest"),
);
if (!block) throw new Error("docs/testing.md's “Testing your app” section has no supertest example.");
const generated = sourceAsModule(block.code, "testing-example");
afterAll(generated.remove);

// The block's own describe/it register here, as in the reader's test file.
jest.requireActual(generated.path);
