import type { ChangeFeed, StoreChange } from '../change-feed.js'
import { runCommand as run, type RedisClient } from './connection.js'

/** RedisStore's ChangeFeed: pub/sub on `<p>changes`, heard on a connection of its own. */
export class RedisChangeFeed implements ChangeFeed {
  readonly #redis: RedisClient
  readonly #channel: string
  readonly #opened: (subscriber: RedisClient) => void

  /** `opened` is told of the subscriber's connection, which RedisStore closes with its own. */
  constructor (redis: RedisClient, channel: string, opened: (subscriber: RedisClient) => void) {
    this.#redis = redis
    this.#channel = channel
    this.#opened = opened
  }

  async publishChange (change: StoreChange): Promise<void> {
    await run(async () => await this.#redis.publish(this.#channel, JSON.stringify(change)))
  }

  async subscribe (onChange: (change: StoreChange) => void, onResync: () => void): Promise<void> {
    const subscriber = this.#redis.duplicate()
    this.#opened(subscriber)
    subscriber.on('error', () => {})
    // With the offline queue off, SUBSCRIBE before the connection is up would
    // be dropped: subscribe on every 'ready', and treat every 'ready' after
    // the first as a gap in which changes may have been missed.
    let connectedBefore = false
    let subscribed: () => void = () => {}
    const listen = (): void => {
      subscriber.subscribe(this.#channel).then(() => { subscribed() }, () => {})
    }
    subscriber.on('ready', () => {
      listen()
      if (connectedBefore) onResync()
      connectedBefore = true
    })
    subscriber.on('message', (_channel: string, message: string) => {
      try {
        onChange(JSON.parse(message) as StoreChange)
      } catch { /* not ours */ }
    })
    // Returns once subscribed, so a change published right after is seen;
    // with Redis down it returns after a while and subscribes when it can.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000)
      subscribed = () => { clearTimeout(timer); resolve() }
      if (subscriber.status === 'ready') {
        connectedBefore = true
        listen()
      }
    })
  }
}
