// Runs the README's supertest example ("Testing your app") as written, against the sources under test.
import { blockAsModule, blocksUnder } from "./readme-blocks";

const block = blocksUnder("Testing your app: `byok-ai/testing`", ["ts"]).find((b) => b.code.includes("supertest"));
if (!block) throw new Error("README.md's “Testing your app” section has no supertest example.");
const generated = blockAsModule(block, "testing-example");
afterAll(generated.remove);

// The block's own describe/it register here, as in the reader's test file.
jest.requireActual(generated.path);
