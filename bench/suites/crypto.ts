/**
 * Encrypt+decrypt round trips per second through AeadEncryption (data key cached) beside raw
 * node:crypto AES-256-GCM and the AWS Encryption SDK, all in one run, plus the machine's
 * ceiling from `openssl speed`. Cases of one payload size are interleaved over 15 rounds
 * and the median kept, so drift on a shared VM hits every case alike; the Encryption SDK is
 * loaded and measured afterwards (5 rounds), so its heap and garbage do not skew the others.
 *
 * Rates are per second of process CPU time (user + system, all threads, so GC work counts),
 * not wall time: on a shared 2-core VM under load, wall time mostly measures how long the
 * process sat descheduled. Wall-clock ops/s are shown beside them.
 */
import { execFileSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, hash, randomBytes, type Cipher } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { AeadEncryption, type AeadAlgorithmName } from '../../client/crypto/aeadEncryption';
import { deriveEntryKey, deriveEntryKeyV2, derivationInput, SALT_BYTES, SALT_BYTES_V1 } from '../../client/crypto/entryKeyInfo';
import { PrkCache } from '../../client/crypto/keyDerivation';
import { StaticKeySource } from '../../client/keys/staticKeySource';
import type { EntryIdentity } from '../../client/types';
import { medianRound, ratio, type BenchContext, type BenchSuite, type CaseResult, type SuiteResult } from '../harness';

const SIZES = [
  { label: '100B', bytes: 100 },
  { label: '1KB', bytes: 1024 },
  { label: '64KB', bytes: 64 * 1024 },
  { label: '1MB', bytes: 1024 * 1024 },
] as const;

type RoundTrip = (payload: Buffer) => Promise<Buffer> | Buffer;

interface Peer {
  readonly name: string;
  readonly roundTrip: RoundTrip;
}

const IDENTITY: EntryIdentity = { namespace: 'bench', key: 'user:42:profile', expiresAt: 1_900_000_000_000 };

function rawGcm(key: Buffer): RoundTrip {
  return (payload) => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const ciphertext = cipher.update(payload);
    cipher.final();
    const tag = cipher.getAuthTag();
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAuthTag(tag);
    const plaintext = decipher.update(ciphertext);
    decipher.final();
    return plaintext;
  };
}

function aead(encryption: AeadEncryption): RoundTrip {
  return async (payload) => {
    const sealed = await encryption.seal(payload, IDENTITY);
    const plaintext = await encryption.open(sealed.bytes, IDENTITY);
    return Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
  };
}

/** The AWS Encryption SDK, as its docs recommend for many small messages: caching CMM, raw AES keyring. */
async function encryptionSdk(key: Buffer): Promise<{ roundTrip: RoundTrip; overhead: (bytes: number) => Promise<number> }> {
  // Loaded here, not at the top: it costs ~145 ms of startup that other suites need not pay.
  const sdk = await import('@aws-crypto/client-node');
  const { encrypt, decrypt } = sdk.buildClient(sdk.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
  const keyring = new sdk.RawAesKeyringNode({
    keyName: 'bench-key',
    keyNamespace: 'cachevault-bench',
    unencryptedMasterKey: new Uint8Array(key),
    wrappingSuite: sdk.RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
  const cmm = new sdk.NodeCachingMaterialsManager({
    backingMaterials: keyring,
    cache: sdk.getLocalCryptographicMaterialsCache(100),
    maxAge: 60_000,
    maxMessagesEncrypted: 2 ** 32,
  });
  const suiteId = sdk.AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY;
  const seal = (payload: Buffer) => encrypt(cmm, payload, { suiteId, plaintextLength: payload.byteLength, encryptionContext: { namespace: 'bench' } });
  return {
    roundTrip: async (payload) => (await decrypt(cmm, (await seal(payload)).result)).plaintext,
    overhead: async (bytes) => (await seal(randomBytes(bytes))).result.byteLength - bytes,
  };
}

// ---- per-entry key derivations compared (is an AES-based one worth it beside HKDF?) ---------------

/**
 * Measurement prototypes of AES-based per-entry key derivations, as RFC 8452 (AES-GCM-SIV) and
 * C2SP XAES-256-GCM do it: a long-lived AES-256-ECB cipher per data key, one `update` call per
 * entry. Not used by the product; here only to price the alternative to HKDF beside it.
 */
function aesDerivations(dataKey: Buffer): { xaes: (salt: Buffer) => Buffer; hashThenAes: (input: Buffer) => Buffer } {
  const ecb: Cipher = createCipheriv('aes-256-ecb', dataKey, null);
  ecb.setAutoPadding(false);
  // XAES-256-GCM: L = AES-K(0^128), K1 = L << 1 (xor 0x87 on carry), then per nonce
  // K_X = AES-K(M1 xor K1) | AES-K(M2 xor K1), M_i = 0x00 | i | "X" | 0x00 | N[0..12).
  const l = ecb.update(Buffer.alloc(16));
  const k1 = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) k1[i] = ((l[i]! << 1) | (i < 15 ? l[i + 1]! >> 7 : 0)) & 0xff;
  if (l[0]! & 0x80) k1[15]! ^= 0x87;
  const blocks = Buffer.alloc(32);
  return {
    // Binds only the first 96 bits of the salt: no identity.
    xaes: (salt) => {
      for (let b = 0; b < 2; b++) {
        const o = b * 16;
        blocks[o] = 0x00 ^ k1[0]!;
        blocks[o + 1] = (b + 1) ^ k1[1]!;
        blocks[o + 2] = 0x58 ^ k1[2]!;
        blocks[o + 3] = 0x00 ^ k1[3]!;
        for (let i = 0; i < 12; i++) blocks[o + 4 + i] = salt[i]! ^ k1[4 + i]!;
      }
      return ecb.update(blocks);
    },
    // The cheapest identity-bound AES variant: SHA-256 over the same bytes HKDF's info holds
    // (label, salt, header, identity; built the same way, per entry), then AES-K of its two
    // halves. Its 128-bit block makes two entries' keys collide after ~2^64 derivations, not 2^128.
    hashThenAes: (input) => ecb.update(hash('sha256', input, 'buffer')),
  };
}

/** Derivation-only cases: format 2 (HKDF, identity-bound), format 1 (HKDF, salt only), and the AES prototypes. */
function derivationPeers(dataKey: Buffer): { name: string; derive: () => Buffer }[] {
  const prk = new PrkCache().prkFor({ id: 'k1', material: dataKey });
  const header = Buffer.from([0xc7, 0x56, 2, 1, 2, 0x6b, 0x31]);
  const salt = randomBytes(SALT_BYTES);
  const saltV1 = salt.subarray(0, SALT_BYTES_V1);
  const aes = aesDerivations(dataKey);
  const info = () => derivationInput(header, 0, header.byteLength, salt, 0, IDENTITY).input.subarray(64);
  return [
    { name: 'kdf hkdf-v2 (identity-bound)', derive: () => deriveEntryKeyV2(prk, salt, header, IDENTITY, 32).key },
    { name: 'kdf hkdf-v1 (salt only)', derive: () => deriveEntryKey(prk, 'aes-256-gcm', saltV1, 32) },
    // RFC 8452 / XAES-style lower bound: one AES call, nothing to build.
    { name: 'kdf xaes (salt only)', derive: () => aes.xaes(salt) },
    { name: 'kdf sha256+aes (identity-bound)', derive: () => aes.hashThenAes(info()) },
  ];
}

async function measureDerivations(ctx: BenchContext, dataKey: Buffer, rounds: number): Promise<CaseResult[]> {
  const peers = derivationPeers(dataKey);
  const ops = ctx.quick ? 5_000 : 50_000;
  for (const peer of peers) for (let i = 0; i < ops; i++) peer.derive().fill(0);
  const samples = new Map<string, CaseResult[]>(peers.map((p) => [p.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const peer of peers) {
      ctx.progress(`crypto ${peer.name} round ${round + 1}/${rounds}`);
      samples.get(peer.name)!.push(await measureCpu(peer.name, () => peer.derive().fill(0), ops));
    }
  }
  return peers.map((peer) => {
    const best = median(samples.get(peer.name)!);
    return { ...best, extra: { 'cpu us/op': 1e6 / best.opsPerSec, ...best.extra } };
  });
}

function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** Runs `fn` `ops` times after a warm-up; the rate is per CPU second (wall rate in `extra`). */
async function measureCpu(name: string, fn: () => unknown, ops: number): Promise<CaseResult> {
  for (let i = 0; i < 3; i++) await fn();
  const wallStart = performance.now();
  const cpuStart = cpuMicros();
  for (let i = 0; i < ops; i++) await fn();
  const cpuSeconds = (cpuMicros() - cpuStart) / 1e6;
  const wallSeconds = (performance.now() - wallStart) / 1000;
  return { name, ops, seconds: cpuSeconds, opsPerSec: ops / cpuSeconds, extra: { 'wall ops/s': ops / wallSeconds } };
}

/** Ops for ~`seconds` of CPU time in `fn`, from a short probe. */
async function calibrate(fn: RoundTrip, payload: Buffer, seconds: number, probeMicros: number): Promise<number> {
  let ops = 0;
  const started = cpuMicros();
  while (cpuMicros() - started < probeMicros) {
    await fn(payload);
    ops++;
  }
  const perOp = (cpuMicros() - started) / 1e6 / ops;
  return Math.max(5, Math.round(seconds / perOp));
}

function openSslCeiling(): number | undefined {
  try {
    const out = execFileSync('openssl', ['speed', '-evp', 'aes-256-gcm', '-bytes', '1048576', '-seconds', '1'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 30_000,
    });
    // Last line: "AES-256-GCM   4512345.67k" (thousands of bytes per second).
    const match = /aes-256-gcm\s+([\d.]+)k\s*$/im.exec(out.trim());
    return match ? Number(match[1]) / 1000 : undefined;
  } catch {
    return undefined;
  }
}

function median(results: readonly CaseResult[]): CaseResult {
  return medianRound(results);
}

/**
 * Measures `peers` at every size: a warm-up of every path at every size first (so JIT
 * compilation, billed to process CPU time, lands in no measurement), then per size `rounds`
 * interleaved rounds of each peer, keeping each peer's median round.
 */
async function measureGroup(ctx: BenchContext, peers: readonly Peer[], rounds: number): Promise<CaseResult[]> {
  const secondsPerCase = ctx.quick ? 0.02 : 0.08;
  for (const size of SIZES) {
    const payload = randomBytes(size.bytes);
    for (const peer of peers) {
      ctx.progress(`crypto warm-up ${size.label} ${peer.name}`);
      await calibrate(peer.roundTrip, payload, 0, ctx.quick ? 10_000 : 150_000);
    }
  }
  const cases: CaseResult[] = [];
  for (const size of SIZES) {
    const payload = randomBytes(size.bytes);
    const ops = new Map<string, number>();
    for (const peer of peers) {
      const back = await peer.roundTrip(payload);
      if (!payload.equals(back)) throw new Error(`bench: ${peer.name} did not round-trip ${size.label}`);
      ops.set(peer.name, await calibrate(peer.roundTrip, payload, secondsPerCase, 50_000));
    }
    const samples = new Map<string, CaseResult[]>(peers.map((p) => [p.name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const peer of peers) {
        ctx.progress(`crypto ${size.label} ${peer.name} round ${round + 1}/${rounds}`);
        samples.get(peer.name)!.push(await measureCpu(`${peer.name} ${size.label}`, () => peer.roundTrip(payload), ops.get(peer.name)!));
      }
    }
    for (const peer of peers) {
      const best = median(samples.get(peer.name)!);
      cases.push({ ...best, extra: { 'MB/s': (best.opsPerSec * size.bytes) / 1e6, 'cpu us/op': 1e6 / best.opsPerSec, ...best.extra } });
    }
  }
  return cases;
}

const suite: BenchSuite = {
  name: 'crypto',
  description: 'encrypt+decrypt round trips: cachevault envelope vs raw node:crypto GCM vs AWS Encryption SDK',
  async run(ctx: BenchContext): Promise<SuiteResult> {
    const material = randomBytes(32);
    const keys = new StaticKeySource([{ id: 'k1', material }]);
    const encryption = (algorithm: AeadAlgorithmName) => new AeadEncryption({ keys, algorithm });
    const gcm = encryption('aes-256-gcm');
    const cbc = encryption('aes-256-cbc-hmac-sha-512');
    // `--cases=raw-gcm,aead-gcm,kdf` measures only some peers (ratios needing the others are skipped).
    const only = ctx.args.find((a) => a.startsWith('--cases='))?.slice('--cases='.length).split(',');
    const selected = (name: string) => only === undefined || only.includes(name);
    const local: Peer[] = [
      { name: 'raw-gcm', roundTrip: rawGcm(material) },
      { name: 'aead-gcm', roundTrip: aead(gcm) },
      { name: 'aead-cbc-hmac', roundTrip: aead(cbc) },
    ].filter((p) => selected(p.name));
    const cases: CaseResult[] = [];

    // The close comparisons (raw GCM vs the envelope) run first, interleaved, before the
    // Encryption SDK is even loaded: its module graph, larger heap and lingering stream work
    // would bill GC and background CPU to whichever case ran next.
    cases.push(...(await measureGroup(ctx, local, ctx.quick ? 5 : 15)));
    if (selected('kdf')) cases.push(...(await measureDerivations(ctx, material, ctx.quick ? 5 : 9)));
    const esdk = await encryptionSdk(material);
    if (selected('esdk')) cases.push(...(await measureGroup(ctx, [{ name: 'esdk', roundTrip: esdk.roundTrip }], 5)));

    const gcmOverhead = (await gcm.seal(Buffer.alloc(1024), IDENTITY)).bytes.byteLength - 1024;
    const cbcOverhead = (await cbc.seal(Buffer.alloc(1024), IDENTITY)).bytes.byteLength - 1024;
    const esdkOverhead = await esdk.overhead(100);
    const ceiling = ctx.quick ? undefined : openSslCeiling();
    gcm.close();
    cbc.close();
    keys.close();

    const has = (name: string) => cases.some((c) => c.name === name);
    const wanted: [string, string, number?][] = [
      ['aead-gcm 1KB', 'raw-gcm 1KB', 0.75],
      ['aead-gcm 1KB', 'esdk 1KB', 30],
      ['aead-gcm 1MB', 'raw-gcm 1MB', 0.9],
      ['aead-gcm 100B', 'raw-gcm 100B'],
      ['aead-gcm 64KB', 'raw-gcm 64KB'],
      ...SIZES.map((s): [string, string] => [`aead-cbc-hmac ${s.label}`, `aead-gcm ${s.label}`]),
      ...SIZES.map((s): [string, string] => [`aead-gcm ${s.label}`, `esdk ${s.label}`]),
      ['kdf hkdf-v2 (identity-bound)', 'kdf hkdf-v1 (salt only)'],
      ['kdf xaes (salt only)', 'kdf hkdf-v2 (identity-bound)'],
      ['kdf sha256+aes (identity-bound)', 'kdf hkdf-v2 (identity-bound)'],
    ];
    const ratios = wanted.filter(([a, b]) => has(a) && has(b)).map(([a, b, target]) => ratio(cases, a, b, target));
    const rawMb = cases.find((c) => c.name === 'raw-gcm 1MB');
    const perOp = (name: string) => {
      const c = cases.find((x) => x.name === name);
      return c === undefined ? undefined : 1e6 / c.opsPerSec;
    };
    const [hkdf, aesBound, raw1k, aead1k] = ['kdf hkdf-v2 (identity-bound)', 'kdf sha256+aes (identity-bound)', 'raw-gcm 1KB', 'aead-gcm 1KB'].map(perOp);
    const notes = [
      ...(hkdf !== undefined && aesBound !== undefined && raw1k !== undefined && aead1k !== undefined
        ? [
            `an identity-bound AES derivation would save ${(2 * (hkdf - aesBound)).toFixed(2)} us per 1 KB round trip ` +
              `(two derivations): aead-gcm 1KB / raw-gcm 1KB would go from ${(raw1k / aead1k).toFixed(2)}x to ${(raw1k / (aead1k - 2 * (hkdf - aesBound))).toFixed(2)}x`,
          ]
        : []),
      `envelope overhead: aes-256-gcm ${gcmOverhead} B (key id "k1"), aes-256-cbc-hmac-sha-512 ${cbcOverhead} B at 1 KB; Encryption SDK ${esdkOverhead} B at 100 B`,
      ceiling === undefined
        ? 'openssl speed not run (quick mode or openssl missing)'
        : `ceiling: openssl speed -evp aes-256-gcm 1 MB = ${Math.round(ceiling)} MB/s (encrypt only)` +
          (rawMb ? `; raw node:crypto round trip at 1 MB = ${Math.round((rawMb.opsPerSec * 2 * 1024 * 1024) / 1e6)} MB/s processed (encrypt + decrypt)` : ''),
    ];
    return { suite: 'crypto', cases, ratios, notes };
  },
};

export default suite;
