#!/usr/bin/env -S node --max-semi-space-size=2
// --max-semi-space-size=2 (MiB): a smaller young generation is collected more
// often, so the socket buffers of streamed bodies are freed within a few MiB
// instead of piling up before a collection (test/proxy/streaming.test.ts,
// websocket.test.ts). At 16 MiB bench/ showed +14% req/s and -13% cpu per
// keyed request (scavenges ~16% of the CPU at 2, 4% at 16), but a clean-clone
// CI run then saw 41 MiB of RSS growth for a 50 MiB upload and 63 MiB for
// 64 MiB of WebSocket frames: the memory promise wins until the buffers
// themselves are reused (issue 16).
// Run it as an executable (npx gerbang, ./bin/gerbang.js) for the flag to apply.
import '../dist/src/cli/index.js'
