// Progress on stderr: a live cli-progress line on a TTY, plain lines otherwise, nothing with --json.
import { SingleBar } from "cli-progress";

/** Reports running counts; `stop()` ends the live line. */
export interface Progress {
  update(counts: Record<string, number>): void;
  stop(): void;
}

/** @param what - the verb shown ("Rotating", "Verifying") */
export function createProgress(what: string, options: { json: boolean; stream?: NodeJS.WriteStream }): Progress {
  const stream = options.stream ?? process.stderr;
  if (options.json) return { update: () => undefined, stop: () => undefined };
  if (!stream.isTTY) {
    return {
      update: (counts) =>
        void stream.write(
          `${what}: ${Object.entries(counts)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ")}\n`,
        ),
      stop: () => undefined,
    };
  }
  // The total is unknown while scanning, so the line shows running counts rather than a bar.
  const bar = new SingleBar({
    stream,
    format: `${what}: {counts}`,
    hideCursor: true,
    clearOnComplete: false,
    noTTYOutput: false,
  });
  bar.start(0, 0, { counts: "starting" });
  return {
    update: (counts) =>
      bar.update(counts.scanned ?? 0, {
        counts: Object.entries(counts)
          .map(([k, v]) => `${k} ${v}`)
          .join(", "),
      }),
    stop: () => bar.stop(),
  };
}
