#!/usr/bin/env -S node --max-semi-space-size=2
// --max-semi-space-size=2 (MiB): a smaller young generation is collected more
// often, so the socket buffers of streamed bodies are freed within a few MiB
// instead of piling up to ~35 MiB before a collection; measured in
// test/proxy/streaming.test.ts and, at no visible cost to throughput, in bench/.
// Run it as an executable (npx gerbang, ./bin/gerbang.js) for the flag to apply.
import '../dist/src/cli/index.js'
