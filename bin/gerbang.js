#!/usr/bin/env -S node --max-semi-space-size=8 --expose-gc
// --max-semi-space-size=8 (MiB): a young generation large enough that
// scavenges stay a few percent of the gateway's CPU under load (about 16% at
// 2 MiB in bench/ profiles, ~4% at 16 MiB), and small enough that peak RSS
// under the shared harness stays at the bare proxy's (16 MiB cost ~20 MB
// more; Node's own default on a large machine lets it grow to 32 MiB).
// --expose-gc: with that much room, the socket
// buffers of a streamed body would pile up for tens of MiB before a scavenge
// frees them, so src/ops/gc-governor.ts asks for a young-generation
// collection whenever ArrayBuffer memory has grown by 8 MiB.
// Run it as an executable (npx gerbang, ./bin/gerbang.js) for the flag to apply.
import '../dist/src/cli/index.js'
