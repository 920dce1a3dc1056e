// The embedded store against the Store contract.
import { MemoryStore } from '../../src/store/memory-store.js'
import { storeContract } from './contract.js'

storeContract('MemoryStore', async (t) => {
  const store = new MemoryStore()
  t.after(async () => { await store.close() })
  return store
})
