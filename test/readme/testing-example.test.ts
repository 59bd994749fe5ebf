// Runs docs/testing.md's supertest example ("Testing a route with supertest") as written, against the sources under test.
import { blocksUnder, sourceAsModule } from "./readme-blocks";

const block = blocksUnder("docs/testing.md", "Testing a route with supertest", ["ts"]).find((b) =>
  b.code.includes("supertest"),
);
if (!block) throw new Error("docs/testing.md's “Testing a route with supertest” section has no supertest example.");
const generated = sourceAsModule(block.code, "testing-example");
afterAll(generated.remove);

// The block's own describe/it register here, as in the reader's test file.
jest.requireActual(generated.path);
