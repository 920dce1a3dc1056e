// The in-memory store against the Store contract (contract/).
import { MemoryStore } from '../../src/store/memory-store.js'
import { storeContract } from './contract/index.js'

storeContract('MemoryStore', async (t) => {
  const store = new MemoryStore()
  t.after(async () => { await store.close() })
  return store
})
