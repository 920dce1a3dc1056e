// The ChangeFeed role (src/store/types.ts): how a change made by one gateway
// process (a revoke, a rotation, a legacy import) reaches every other one, so
// their credential caches drop what changed. Implemented by
// src/store/{memory,redis,disk}/change-feed.ts; its contract tests:
// test/store/contract/change-feed.ts.

/** What changed, announced to every gateway process so their caches drop it. */
export interface StoreChange {
  clientId: string
  /**
   * Set (with clientId '') once `gerbang import legacy` created clients:
   * processes reread legacySummary and forget the keys they remember as unknown.
   */
  legacyImport?: boolean
}

export interface ChangeFeed {
  /** Tells every process sharing the store (this one included) that a client changed. */
  publishChange (change: StoreChange): Promise<void>
  /**
   * Listens for changes. `onResync` is called when changes may have been
   * missed (the connection to the store was lost and is back): drop everything cached.
   */
  subscribe (onChange: (change: StoreChange) => void, onResync: () => void): Promise<void>
}
