import { test } from 'node:test'
import assert from 'node:assert/strict'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { BatchedDestination, batchSizesFor } from '../../src/logging.js'

test('a regular file gets large log batches, a pipe keeps them under PIPE_BUF', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gerbang-log-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const fd = openSync(join(dir, 'access.log'), 'a')
  try {
    assert.deepEqual(batchSizesFor(fd), { batchChars: 60_000, maxWrite: 65_536 })
  } finally { closeSync(fd) }
  // A pipe, a terminal, /dev/null or a closed descriptor: atomic writes need ≤ 4,096 bytes.
  const devNull = openSync('/dev/null', 'w')
  try {
    assert.deepEqual(batchSizesFor(devNull), { batchChars: 4000, maxWrite: 4096 })
  } finally { closeSync(devNull) }
  assert.deepEqual(batchSizesFor(987_654), { batchChars: 4000, maxWrite: 4096 })
})

test('batched lines reach the file whole and in order, other lines after the batch before them', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gerbang-log-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const path = join(dir, 'access.log')
  const fd = openSync(path, 'a')
  const { batchChars, maxWrite } = batchSizesFor(fd)
  const destination = new BatchedDestination(pino.destination({ dest: fd, sync: true, maxWrite }), batchChars)
  const expected: string[] = []
  for (let i = 0; i < 2_000; i++) {
    const line = `{"n":${i},"path":"/api/${'x'.repeat(i % 97)}"}\n`
    expected.push(line)
    if (i % 500 === 499) destination.write(line)
    else destination.writeBatched(line)
  }
  destination.flushSync()
  closeSync(fd)
  assert.equal(readFileSync(path, 'utf8'), expected.join(''))
})
