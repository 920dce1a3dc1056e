import { after } from 'node:test'

/**
 * Collects every unhandled rejection or exception for the rest of this test
 * file (a test then asserts the list is empty): the process must survive
 * every upstream misbehaviour.
 */
export function trapUnhandled (): unknown[] {
  const unhandled: unknown[] = []
  const onUnhandled = (err: unknown): void => { unhandled.push(err) }
  process.on('unhandledRejection', onUnhandled)
  process.on('uncaughtException', onUnhandled)
  after(() => {
    process.off('unhandledRejection', onUnhandled)
    process.off('uncaughtException', onUnhandled)
  })
  return unhandled
}
