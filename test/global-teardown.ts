// Jest globalTeardown: stops the Redis and PostgreSQL that test/global-setup.ts started and removes their data.
import { SERVICES } from "./helpers/suite-services";

export default async function globalTeardown(): Promise<void> {
  await SERVICES.stop();
}
