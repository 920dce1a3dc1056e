// A larger young generation makes the hot path cheaper: with 2 MiB
// semi-spaces, scavenges took about 16% of the gateway's CPU under load in
// bench/, with 16 MiB about 4% (bin/gerbang.js sets 8 MiB, for memory). But a streamed body's socket buffers live
// outside the JavaScript heap: each is freed only when a scavenge collects
// the small object holding it, and with a large young generation that comes
// after tens of MiB of buffers have piled up (test/proxy/streaming.test.ts,
// websocket-memory.test.ts bound the growth). So a timer watches the memory held by
// ArrayBuffers and asks for a young-generation collection when it has grown
// by GROWTH_BYTES since the last one. Ordinary requests never get there
// (a few hundred bytes of buffers each, collected by the scavenges they
// cause anyway); a large upload or download does, a few times a second.

const GROWTH_BYTES = 8 * 1024 * 1024
const INTERVAL_MS = 100

type CollectGarbage = (options: { type: 'minor' | 'major' }) => void

/**
 * Starts watching; returns the function that stops it. A no-op without
 * `--expose-gc` (bin/gerbang.js passes it), e.g. when the CLI is run as
 * `node dist/src/cli/index.js`.
 */
export function startGcGovernor (growthBytes = GROWTH_BYTES, intervalMs = INTERVAL_MS): () => void {
  const gc = (globalThis as { gc?: CollectGarbage }).gc
  if (typeof gc !== 'function') return () => {}
  let base = process.memoryUsage().arrayBuffers
  const timer = setInterval(() => {
    const held = process.memoryUsage().arrayBuffers
    if (held - base > growthBytes) {
      gc({ type: 'minor' })
      base = process.memoryUsage().arrayBuffers
    } else if (held < base) {
      base = held
    }
  }, intervalMs)
  timer.unref()
  return () => { clearInterval(timer) }
}
