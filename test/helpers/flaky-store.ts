import { MemoryStore } from '../../src/store/memory-store.js'
import { StoreUnavailableError, type Store } from '../../src/store/types.js'

/** A store that can be switched off: every call then fails as a store that cannot be reached does. */
export interface FlakyStore extends Store {
  down: boolean
}

/** A MemoryStore behind a switch (`down`), for the console's store-outage behaviour. */
export function flakyStore (inner: Store = new MemoryStore()): FlakyStore {
  const state = { down: false }
  return new Proxy(inner, {
    get (target, name, receiver) {
      if (name === 'down') return state.down
      if (name === 'isAvailable') return () => !state.down && target.isAvailable()
      const value = Reflect.get(target, name, receiver) as unknown
      if (typeof value !== 'function' || name === 'close' || name === 'subscribe') {
        return typeof value === 'function' ? value.bind(target) : value
      }
      return async (...args: unknown[]) => {
        if (state.down) throw new StoreUnavailableError('the store is down (test)')
        return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)
      }
    },
    set (_target, name, value) {
      if (name !== 'down') return false
      state.down = value === true
      return true
    }
  }) as FlakyStore
}
