import { startKek } from "../helpers/key-services";
it("speed", async () => {
  for (const kind of ["vaultTransit", "awsKms"] as const) {
    const s = await startKek(kind);
    const t = Date.now();
    for (let i = 0; i < 300; i++) await s.kek.wrap(new Uint8Array(32), { userId: "u" + i, provider: "p" });
    const seq = Date.now() - t;
    const t2 = Date.now();
    await Promise.all(Array.from({ length: 300 }, (_, i) => s.kek.wrap(new Uint8Array(32), { userId: "u" + i, provider: "p" })));
    process.stdout.write(`${kind} seq300 ${seq}ms par300 ${Date.now() - t2}ms\n`);
    await s.close();
  }
}, 120000);
