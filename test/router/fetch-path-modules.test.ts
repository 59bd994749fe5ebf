// The fetch path loads no Express: the built package, in a fresh Node process, answers through byokHandler without
// Express or its HTTP pieces in the module cache (Express stays a peer for byokRouter only).
import { startNode } from "../helpers/node-process";

/**
 * Express and the HTTP framework it brings (its router, body parser, final handler and static file server).
 * The fetch path does load express-validator (the body's field checks), helmet (the security-header table is taken
 * from its configuration) and express-rate-limit (its stores count both adapters' requests): none loads Express.
 */
const EXPRESS_FRAMEWORK = ["express", "router", "body-parser", "finalhandler", "serve-static", "send"];

interface Probe {
  answers: [status: number, start: string][];
  fetchPath: string[];
  withRouter: string[];
}

async function probe(format: "cjs" | "esm"): Promise<Probe> {
  const child = startNode("test/router/fetch-path-probe.mjs", [format]);
  const code = await child.exited;
  expect([code, child.output()]).toEqual([0, expect.stringMatching(/^\{.*\}\n$/)]);
  return JSON.parse(child.output()) as Probe;
}

describe.each(["cjs", "esm"] as const)("the built package (%s) on the fetch path", (format) => {
  it("answers through byokHandler with no Express loaded, and the probe sees Express once byokRouter is built", async () => {
    const { answers, fetchPath, withRouter } = await probe(format);
    expect(answers).toEqual([
      [201, expect.stringMatching(/^\{"provider"/)],
      [200, "event: chunk\nd"],
    ]);
    expect(fetchPath.filter((name) => EXPRESS_FRAMEWORK.includes(name))).toEqual([]);
    expect(withRouter).toEqual(expect.arrayContaining(EXPRESS_FRAMEWORK));
  });
});
