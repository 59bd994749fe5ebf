// byok-ai/testing: fake provider servers for the users' own tests (and ours).
export { startFakeGemini, geminiProtocol } from "./fake-gemini.js";
export {
  startFakeUpstream,
  defaultAcceptKey,
  type FakeProtocol,
  type FakeReply,
  type FakeRequest,
  type FakeUpstream,
  type FakeUpstreamOptions,
  type ResolvedReply,
} from "./fake-upstream.js";
export { runKeyStoreConformance, type ConformanceRunner, type KeyStoreConformanceOptions } from "./store-conformance.js";
