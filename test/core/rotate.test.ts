import { MemoryStore } from "../../lib";
import { rotationSuite } from "../helpers/rotation-suite";

rotationSuite(
  "MemoryStore",
  async () => new MemoryStore(),
  async () => undefined,
);
