// Type-level test (compiled by tsc in npm test: test/type-tests.test.ts): what provider and store authors need comes
// from byok-ai/extend, and byok-ai no longer has it.
import type * as Root from "../lib";
import { upstreamError, type KeyRecord, type Provider } from "../lib/extend";

// Never used: each line only has to fail to compile.
// @ts-expect-error KeyRecord is in byok-ai/extend
export type RootKeyRecord = Root.KeyRecord;
// @ts-expect-error KeyStore is in byok-ai/extend
export type RootKeyStore = Root.KeyStore;
// @ts-expect-error Provider is in byok-ai/extend
export type RootProvider = Root.Provider;
// @ts-expect-error upstreamError is in byok-ai/extend
export type RootUpstreamError = typeof Root.upstreamError;

describe("byok-ai/extend", () => {
  it("types a custom provider and a record, and builds upstream errors", () => {
    const provider: Pick<Provider, "specificationVersion" | "defaultModel"> = {
      specificationVersion: "v1",
      defaultModel: "m",
    };
    const record: Pick<KeyRecord, "userId" | "provider"> = { userId: "u1", provider: "mine" };
    expect([provider.defaultModel, record.provider]).toEqual(["m", "mine"]);
    expect(upstreamError("mine", { status: 401 }).code).toBe("KEY_REJECTED");
  });
});
