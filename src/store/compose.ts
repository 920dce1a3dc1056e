import type { AuditStore, RoleStore, SessionStore, UserStore } from './admin.js'
import type { ChangeFeed } from './change-feed.js'
import type { CounterStore } from './counters.js'
import type { CredentialStore } from './credentials.js'
import type { KeyRequestStore } from './key-requests.js'
import type { LimitStore } from './limits.js'
import type { StoreBase } from './types.js'

// A store is put together from one object per role (TypeScript's mixin
// pattern). Each implementation
//   - declares `interface XStore extends Store {}` beside its class `XStore`,
//   - calls composeStore(XStore, { credentials: XCredentials, … }) once: the
//     class gets every method of every part class, each calling the same
//     method of the instance's part (so a subclass can still override one
//     and call super),
//   - hands its instance's parts to setParts in its constructor.
// PartClasses makes the compiler check that the parts cover every role and
// that each implements its own; composeStore checks that no two answer to
// the same name.

/** The objects a store is made of: one per role, the AdminStore in two. */
export interface StoreParts {
  credentials: CredentialStore
  admin: UserStore & RoleStore & SessionStore & AuditStore
  keyRequests: KeyRequestStore
  counters: CounterStore
  limits: LimitStore
  changes: ChangeFeed
}

/** The class of each part. */
export type PartClasses = { [R in keyof StoreParts]: abstract new (...args: never[]) => StoreParts[R] }

type Method = (...args: unknown[]) => unknown

const partsOf = new WeakMap<object, StoreParts>()

/** The public methods of a class (and the classes it extends), without Object's. */
function methodsOf (prototype: object): string[] {
  const names = new Set<string>()
  let proto: object | null = prototype
  while (proto !== null && proto !== Object.prototype) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const value: unknown = Object.getOwnPropertyDescriptor(proto, name)?.value
      if (name !== 'constructor' && typeof value === 'function') names.add(name)
    }
    proto = Object.getPrototypeOf(proto) as object | null
  }
  return [...names]
}

/** Gives `storeClass` every method of its part classes; each runs on the instance's part (setParts). */
export function composeStore (storeClass: abstract new (...args: never[]) => StoreBase, parts: PartClasses): void {
  const prototype = storeClass.prototype as Record<string, unknown>
  const owners = new Map<string, string>()
  for (const [role, partClass] of Object.entries(parts) as Array<[keyof StoreParts, { prototype: object }]>) {
    for (const name of methodsOf(partClass.prototype)) {
      const owner = owners.get(name) ?? (name in prototype ? storeClass.name : undefined)
      if (owner !== undefined) {
        throw new Error(`${storeClass.name}: its ${role} part and ${owner} both have a method ${name}`)
      }
      owners.set(name, `its ${role} part`)
      const forward = function (this: object, ...args: unknown[]): unknown {
        const part = (partsOf.get(this) as StoreParts)[role] as unknown as Record<string, Method>
        return (part[name] as Method).apply(part, args)
      }
      Object.defineProperty(forward, 'name', { value: name })
      Object.defineProperty(prototype, name, { value: forward, writable: true, configurable: true })
    }
  }
}

/** The role objects of one store instance, for the methods composeStore gave its class. */
export function setParts (store: StoreBase, parts: StoreParts): void {
  partsOf.set(store, parts)
}
