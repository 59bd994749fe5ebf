// docs/extending.md's minimal keys store ("Writing a store"), as written there, passes the KeyStore conformance suite.
import type { KeyStore } from "../../lib/extend";
import { runKeyStoreConformance } from "../../lib/testing";
import { blocksUnder, sourceAsModule } from "./readme-blocks";

const block = blocksUnder("docs/extending.md", "Writing a store", ["ts"]).find((b) => b.code.includes("MapKeyStore"));
if (!block) throw new Error("docs/extending.md's “Writing a store” section has no MapKeyStore.");
const generated = sourceAsModule(block.code, "map-key-store");
afterAll(generated.remove);
const { MapKeyStore } = jest.requireActual(generated.path) as { MapKeyStore: new () => KeyStore };

runKeyStoreConformance(
  { describe, it },
  {
    name: "MapKeyStore (docs/extending.md, “Writing a store”)",
    create: () => new MapKeyStore(),
    destroy: () => undefined,
  },
);
