// The CounterStore role (src/store/types.ts): named counters in buckets that
// expire, written in batches off the hot path (traffic analytics,
// src/analytics/, and the legacy-key calls of src/auth/legacy.ts).
// Implemented by src/store/{memory,redis,disk}/counters.ts; its contract
// tests: test/store/contract/counters.ts.

/** Counter increments for one bucket (a hash of named counters) that lives ttlMs after its last write. */
export interface CounterBucket {
  bucket: string
  ttlMs: number
  counts: ReadonlyMap<string, number>
}

export interface CounterStore {
  /**
   * Adds to named counters (traffic analytics), written in batches off the
   * hot path. Each bucket's TTL restarts with every write.
   */
  addCounts (buckets: readonly CounterBucket[]): Promise<void>
  /** Every counter of each bucket (empty maps for missing buckets), in the order asked. */
  readCounts (buckets: readonly string[]): Promise<Array<Map<string, number>>>
  /** Chosen counters of one bucket (0 when missing), in the order asked. */
  readCountFields (bucket: string, fields: readonly string[]): Promise<number[]>
}
