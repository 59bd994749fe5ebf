// Counts in CLI sentences: "1 record", "2 records".

/** `count` followed by `noun`, with an "s" unless the count is exactly 1. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
