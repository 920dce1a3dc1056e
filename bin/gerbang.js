#!/usr/bin/env -S node --max-semi-space-size=16
// --max-semi-space-size=16 (MiB): V8's young generation sized for a proxy
// that makes short-lived objects on every request. At 2 MiB (until
// 2026-12-05) scavenges took ~16% of the gateway's CPU under load; at 16,
// bench/ shows +14% req/s and -13% cpu per keyed request for ~30 MB more RSS
// (still below a bare Fastify proxy's), and the streaming and WebSocket
// memory tests (test/proxy/streaming.test.ts, websocket.test.ts) still pass.
// Run it as an executable (npx gerbang, ./bin/gerbang.js) for the flag to apply.
import '../dist/src/cli/index.js'
