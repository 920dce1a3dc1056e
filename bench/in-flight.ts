// Filling a store fast without flooding it: a fixed number of calls in
// flight, each one a command the store must answer within its timeout.

/** Calls `task` with 0, 1, … count − 1 in that order, at most `inFlight` of them unfinished at a time. */
export async function eachInFlight (
  count: number, inFlight: number, task: (i: number) => Promise<void>
): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++)
  }
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker))
}
