import { createCipheriv, createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import LZString from 'lz-string'

// A fake BPJS Kesehatan VClaim 2.0 upstream, written from BPJS's published
// rules independently of plugins/bpjs-vclaim.ts so each checks the other:
//   X-signature = base64(HMAC-SHA256(consId + '&' + X-timestamp, secret))
//   response    = base64(AES-256-CBC(LZString.compressToEncodedURIComponent(JSON),
//                 key = SHA-256(consId + secret + X-timestamp), iv = key[0..16)))
// Like the real service it answers a rejected request with HTTP 200 and
// metaData.code "401" (response null), and errors unencrypted.

/** base64(HMAC-SHA256(consId + '&' + timestamp, secret)), the X-signature header. */
export function bpjsSignature (consId: string, secret: string, timestamp: string): string {
  return createHmac('sha256', secret).update(consId + '&' + timestamp).digest('base64')
}

/** The encrypted `response` string BPJS sends for `payload`. */
export function bpjsEncrypt (payload: unknown, consId: string, secret: string, timestamp: string): string {
  const key = createHash('sha256').update(consId + secret + timestamp).digest()
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16))
  const compressed = LZString.compressToEncodedURIComponent(JSON.stringify(payload))
  return Buffer.concat([cipher.update(compressed, 'utf8'), cipher.final()]).toString('base64')
}

/** A participant as GET /Peserta/nokartu/:no/tglSEP/:date describes one (invented data). */
export function peserta (noKartu: string, tglSEP: string): Record<string, unknown> {
  return {
    peserta: {
      noKartu,
      nik: '3604010101900001',
      nama: 'SITI AMINAH',
      pisa: '1',
      sex: 'P',
      tglLahir: '1990-01-01',
      tglTAT: '2099-12-31',
      tglTMT: '2015-01-01',
      statusPeserta: { kode: '0', keterangan: 'AKTIF' },
      hakKelas: { kode: '3', keterangan: 'KELAS III' },
      jenisPeserta: { kode: '21', keterangan: 'PBI (APBN)' },
      provUmum: { kdProvider: '0101U001', nmProvider: 'PUSKESMAS SERANG KOTA' },
      informasi: { dinsos: null, prolanisPRB: null, noSKTM: null },
      umur: { umurSekarang: '35 tahun', umurSaatPelayanan: '35 tahun' },
      tglSEP
    }
  }
}

export interface FakeBpjsOptions {
  consId: string
  secret: string
  /** The user_key every request must carry. */
  userKey: string
  /** How far X-timestamp may be from the server's clock, in seconds; 300 unless told. */
  toleranceSeconds?: number
  /** The path the service lives under, like the real `/vclaim-rest`. */
  basePath?: string
}

/** How the fake judged one request. */
export interface BpjsVerdict {
  url: string
  headers: IncomingHttpHeaders
  /** undefined when the credentials were accepted, else why they were not. */
  rejected: string | undefined
}

export interface FakeBpjs {
  url: string
  port: number
  verdicts: BpjsVerdict[]
  /** When true, answers carry a truncated `response` that cannot be decrypted. */
  corrupt: boolean
  close: () => Promise<void>
}

/** Starts the fake on 127.0.0.1 and a free port; the caller closes it. */
export async function startFakeBpjs (options: FakeBpjsOptions): Promise<FakeBpjs> {
  const tolerance = options.toleranceSeconds ?? 300
  const basePath = options.basePath ?? '/vclaim-rest'
  const route = new RegExp(`^${basePath}/Peserta/nokartu/(\\d{13})/tglSEP/(\\d{4}-\\d{2}-\\d{2})$`)

  const check = (headers: IncomingHttpHeaders): string | undefined => {
    const consId = single(headers['x-cons-id'])
    const timestamp = single(headers['x-timestamp'])
    const signature = single(headers['x-signature'])
    if (consId === undefined || timestamp === undefined || signature === undefined) return 'missing X-cons-id, X-timestamp or X-signature'
    if (consId !== options.consId) return 'unknown X-cons-id'
    if (single(headers.user_key) !== options.userKey) return 'missing or wrong user_key'
    if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > tolerance) return 'X-timestamp out of tolerance'
    const expected = Buffer.from(bpjsSignature(consId, options.secret, timestamp))
    const given = Buffer.from(signature)
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'wrong X-signature'
    return undefined
  }

  const fake: FakeBpjs = { url: '', port: 0, verdicts: [], corrupt: false, close: async () => {} }
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const url = req.url ?? ''
      const rejected = check(req.headers)
      fake.verdicts.push({ url, headers: req.headers, rejected })
      if (rejected !== undefined) {
        answer(res, { metaData: { code: '401', message: `Authentication failed: ${rejected}` }, response: null })
        return
      }
      const match = req.method === 'GET' ? route.exec(url) : null
      if (match === null) {
        answer(res, { metaData: { code: '404', message: 'Service not found' }, response: null })
        return
      }
      const [, noKartu = '', tglSEP = ''] = match
      if (noKartu === '0000000000000') {
        answer(res, { metaData: { code: '201', message: 'Peserta tidak ditemukan' }, response: null })
        return
      }
      const timestamp = single(req.headers['x-timestamp']) ?? ''
      let response = bpjsEncrypt(peserta(noKartu, tglSEP), options.consId, options.secret, timestamp)
      // Cut short, as a broken transfer would leave it: never whole AES blocks.
      if (fake.corrupt) response = Buffer.from(response, 'base64').subarray(0, -5).toString('base64')
      answer(res, { metaData: { code: '200', message: 'OK' }, response })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  fake.port = (server.address() as AddressInfo).port
  fake.url = `http://127.0.0.1:${fake.port}`
  fake.close = async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => { resolve() }))
  }
  return fake
}

function single (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

function answer (res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}
