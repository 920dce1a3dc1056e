import { test } from 'node:test'
import assert from 'node:assert/strict'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BatchedDestination, batchSizesFor, bufferDestination } from '../../src/logging.js'

test('a regular file gets large log batches, a pipe keeps them under PIPE_BUF', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gerbang-log-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const fd = openSync(join(dir, 'access.log'), 'a')
  try {
    assert.deepEqual(batchSizesFor(fd), { batchBytes: 65_536, maxWrite: 65_536 })
  } finally { closeSync(fd) }
  // A pipe, a terminal, /dev/null or a closed descriptor: atomic writes need ≤ 4,096 bytes.
  const devNull = openSync('/dev/null', 'w')
  try {
    assert.deepEqual(batchSizesFor(devNull), { batchBytes: 4096, maxWrite: 4096 })
  } finally { closeSync(devNull) }
  assert.deepEqual(batchSizesFor(987_654), { batchBytes: 4096, maxWrite: 4096 })
})

test('batched lines reach the file whole and in order, other lines after the batch before them', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gerbang-log-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const path = join(dir, 'access.log')
  const fd = openSync(path, 'a')
  const { batchBytes, maxWrite } = batchSizesFor(fd)
  const destination = new BatchedDestination(bufferDestination(fd, maxWrite, true), batchBytes)
  const expected: string[] = []
  for (let i = 0; i < 2_000; i++) {
    // Multi-byte characters, and now and then a line longer than a whole batch.
    const path = i % 250 === 7 ? 'é'.repeat(40_000) : `${'x'.repeat(i % 97)}${i % 3 === 0 ? 'ü€😀' : ''}`
    const line = `{"n":${i},"path":"/api/${path}"}\n`
    expected.push(line)
    if (i % 500 === 499) destination.write(line)
    else destination.writeBatched(line)
  }
  destination.flushSync()
  closeSync(fd)
  assert.equal(readFileSync(path, 'utf8'), expected.join(''))
})

test('to a pipe, every write carries whole lines and at most PIPE_BUF bytes', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gerbang-log-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const path = join(dir, 'access.log')
  const fd = openSync(path, 'a')
  // The pipe's sizes on a file, so that each write(2) can be read back: sonic-boom's
  // synchronous mode writes each batch it is handed at once.
  const { batchBytes, maxWrite } = batchSizesFor(987_654)
  const sonic = bufferDestination(fd, maxWrite, true)
  const writes: number[] = []
  const write = sonic.write.bind(sonic)
  sonic.write = (data: string): boolean => {
    writes.push(Buffer.byteLength(data))
    return write(data)
  }
  const destination = new BatchedDestination(sonic, batchBytes)
  const expected: string[] = []
  for (let i = 0; i < 3_000; i++) {
    const line = `{"n":${i},"path":"/api/${'ß'.repeat(i % 61)}"}\n`
    expected.push(line)
    destination.writeBatched(line)
  }
  destination.flushSync()
  closeSync(fd)
  assert.equal(readFileSync(path, 'utf8'), expected.join(''))
  assert.ok(writes.length > 20, `${writes.length} batches`)
  assert.ok(writes.every((bytes) => bytes <= 4096), `largest batch ${Math.max(...writes)} bytes`)
  // Batches are nearly full: the exact length is asked for only near the end of one.
  const full = writes.slice(0, -1)
  assert.ok(full.every((bytes) => bytes > 4096 - 200), `smallest batch ${Math.min(...full)} bytes`)
})
