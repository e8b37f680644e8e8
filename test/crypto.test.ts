import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { hashSecret, KeyRing, loadKeyRing, safeEqual } from '../src/crypto/index.ts';
import { isTokenkeeperError, TokenkeeperError } from '../src/errors.ts';
import { createMemoryLogger } from '../src/logger.ts';

const K1 = Buffer.alloc(32, 1).toString('base64');
const K2 = Buffer.alloc(32, 2).toString('base64url');
const TOKENS = JSON.stringify({ access_token: 'ya29.a0-access-token', refresh_token: '1//0g-refresh-token' });
const AAD = 'connections:con_aaaaaaaaaaaaaaaaaaaa:tokens';

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tokenkeeper-crypto-'));
  tempDirs.push(dir);
  return dir;
}

function decryptionError(fn: () => unknown): TokenkeeperError {
  try {
    fn();
  } catch (error) {
    assert.ok(isTokenkeeperError(error, 'decryption_failed'), `expected decryption_failed, got ${String(error)}`);
    return error;
  }
  assert.fail('expected decryption to fail');
}

/** Flips one bit of the base64url field at `index` of a sealed value. */
function tamper(sealed: string, index: number): string {
  const fields = sealed.split('.');
  const bytes = Buffer.from(fields[index]!, 'base64url');
  bytes[0]! ^= 1;
  fields[index] = bytes.toString('base64url');
  return fields.join('.');
}

test('seal then open returns the plaintext; the sealed value names its key and hides the plaintext', () => {
  const ring = KeyRing.parse(`k1:${K1}`);
  const sealed = ring.seal(TOKENS, AAD);
  assert.match(sealed, /^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
  assert.ok(!sealed.includes('access-token') && !sealed.includes('refresh-token'));
  assert.equal(ring.open(sealed, AAD), TOKENS);
  assert.equal(ring.open(ring.seal('', AAD), AAD), '', 'an empty string round-trips too');
  assert.equal(ring.open(ring.seal('päßwörd ✓', AAD), AAD), 'päßwörd ✓');
});

test('sealing the same value twice gives different ciphertexts (random IV)', () => {
  const ring = KeyRing.parse(`k1:${K1}`);
  const first = ring.seal(TOKENS, AAD);
  const second = ring.seal(TOKENS, AAD);
  assert.notEqual(first, second);
  assert.notEqual(first.split('.')[2], second.split('.')[2]);
});

test('a value copied to another row or column does not open', () => {
  const ring = KeyRing.parse(`k1:${K1}`);
  const sealed = ring.seal(TOKENS, 'connections:con_aaaaaaaaaaaaaaaaaaaa:tokens');
  const otherRow = decryptionError(() => ring.open(sealed, 'connections:con_bbbbbbbbbbbbbbbbbbbb:tokens'));
  assert.equal(otherRow.details?.reason, 'authentication_failed');
  assert.match(otherRow.message, /copied from another row or column/);
  decryptionError(() => ring.open(sealed, 'integrations:con_aaaaaaaaaaaaaaaaaaaa:client_secret'));
  assert.ok(!otherRow.message.includes('access-token'));
});

test('a tampered value does not open', () => {
  const ring = KeyRing.parse(`k1:${K1}`);
  const sealed = ring.seal(TOKENS, AAD);
  for (const field of [2, 3, 4]) {
    const error = decryptionError(() => ring.open(tamper(sealed, field), AAD));
    assert.equal(error.details?.reason, 'authentication_failed');
  }
  const truncated = sealed.slice(0, -4);
  decryptionError(() => ring.open(truncated, AAD));
  for (const malformed of ['', 'plaintext-token', 'v2.k1.a.b.c', 'v1.k1.!!.x.y', `${sealed}.extra`, sealed.replace('v1.k1.', 'v1.k 1.')]) {
    const error = decryptionError(() => ring.open(malformed, AAD));
    assert.equal(error.details?.reason, 'malformed', malformed);
    assert.ok(!error.message.includes('plaintext-token'));
  }
});

test('a value sealed with a key the ring does not hold fails with the key id named', () => {
  const sealed = KeyRing.parse(`k0:${K2}`).seal(TOKENS, AAD);
  const ring = KeyRing.parse(`k2:${K2},k1:${K1}`);
  const error = decryptionError(() => ring.open(sealed, AAD));
  assert.equal(error.details?.reason, 'unknown_key');
  assert.match(error.message, /key "k0", which is not in TOKENKEEPER_ENCRYPTION_KEYS \(configured: k2, k1\)/);
  assert.ok(!error.message.includes(K2) && !error.message.includes(K1));
});

test('a key under a known id but with different material fails authentication', () => {
  const sealed = KeyRing.parse(`k1:${K1}`).seal(TOKENS, AAD);
  const error = decryptionError(() => KeyRing.parse(`k1:${K2}`).open(sealed, AAD));
  assert.equal(error.details?.reason, 'authentication_failed');
});

test('rotation: a ring "k2,k1" opens k1 values, seals with k2, and reseals old values', () => {
  const oldRing = KeyRing.parse(`k1:${K1}`);
  const oldValue = oldRing.seal(TOKENS, AAD);

  const ring = KeyRing.parse(`k2:${K2},k1:${K1}`);
  assert.equal(ring.primaryKeyId, 'k2');
  assert.deepEqual(ring.keyIds, ['k2', 'k1']);
  assert.equal(ring.open(oldValue, AAD), TOKENS);
  assert.equal(ring.keyIdOf(oldValue), 'k1');
  assert.equal(ring.isCurrent(oldValue), false);

  const fresh = ring.seal(TOKENS, AAD);
  assert.equal(ring.keyIdOf(fresh), 'k2');
  assert.equal(ring.isCurrent(fresh), true);

  const resealed = ring.reseal(oldValue, AAD);
  assert.equal(ring.keyIdOf(resealed), 'k2');
  assert.equal(ring.open(resealed, AAD), TOKENS);
  assert.equal(ring.reseal(resealed, AAD), resealed, 'a current value is left as it is');

  // After rotate-keys, k1 can be dropped: resealed values open with k2 alone.
  assert.equal(KeyRing.parse(`k2:${K2}`).open(resealed, AAD), TOKENS);
  decryptionError(() => KeyRing.parse(`k2:${K2}`).open(oldValue, AAD));
  assert.throws(() => ring.reseal(oldValue, 'connections:con_bbbbbbbbbbbbbbbbbbbb:tokens'), TokenkeeperError, 'reseal checks the associated data');
});

test('keyIdOf is null for anything that is not a sealed value', () => {
  const ring = KeyRing.parse(`k1:${K1}`);
  assert.equal(ring.keyIdOf('not sealed'), null);
  assert.equal(ring.isCurrent('not sealed'), false);
});

test('KeyRing.parse rejects bad specs with clear messages and no key material', () => {
  const hex = Buffer.alloc(32, 0xab).toString('hex');
  const short = Buffer.alloc(16, 3).toString('base64');
  const cases: [string, RegExp][] = [
    ['', /the key list is empty/],
    [`k1:${short}`, /key "k1" decodes to 16 bytes but AES-256 needs exactly 32/],
    [`k1:${hex}`, /decodes to 48 bytes .*looks like hex/],
    ['k1:not*base64!', /key "k1" is not valid base64 or base64url/],
    [`k1:${K1},k1:${K2}`, /key id "k1" appears more than once/],
    [K1, /entry 1 of 1 has no key id/],
    [`k1:${K1},`, /entry 2 of 2 is empty \(a stray comma\?\)/],
    [`key one:${K1}`, /entry 1 of 1: the key id must be 1-32 characters/],
    [`${'k'.repeat(33)}:${K1}`, /the key id must be 1-32 characters/],
    ['k1:', /key "k1" has no key after ":"/],
  ];
  for (const [spec, message] of cases) {
    let error: unknown;
    try {
      KeyRing.parse(spec);
    } catch (caught) {
      error = caught;
    }
    assert.ok(error instanceof Error, `${spec} should not parse`);
    assert.match(error.message, message, spec);
    for (const material of [K1, K2, hex, short, 'not*base64!']) {
      assert.ok(!error.message.includes(material), `message for ${JSON.stringify(spec)} leaks key material`);
    }
  }
});

test('base64url keys, spaces around entries and a 43-character unpadded key are accepted', () => {
  const ring = KeyRing.parse(` k2 : ${K2} , k1:${K1.replace(/=+$/, '')} `);
  assert.deepEqual(ring.keyIds, ['k2', 'k1']);
});

test('generateKeySpec makes a parseable spec with a fresh key each time', () => {
  const first = KeyRing.generateKeySpec();
  const second = KeyRing.generateKeySpec('k9');
  assert.match(first, /^k\d{8}T\d{6}:[A-Za-z0-9+/]{43}=$/);
  assert.match(second, /^k9:/);
  const ring = KeyRing.parse(`${second},${first}`);
  assert.equal(ring.primaryKeyId, 'k9');
  assert.notEqual(first.split(':')[1], second.split(':')[1]);
  assert.throws(() => KeyRing.generateKeySpec('bad id'), /key id must be/);
});

test('a key ring never shows its keys when logged or serialized', () => {
  const ring = KeyRing.parse(`k2:${K2},k1:${K1}`);
  for (const text of [inspect(ring, { showHidden: true, depth: 5 }), JSON.stringify(ring), String(Object.values(ring))]) {
    assert.ok(!text.includes(K1) && !text.includes(K2), text);
  }
  assert.equal(JSON.stringify(ring), '{"primaryKeyId":"k2","keyIds":["k2","k1"]}');
});

test('seal and open require associated data', () => {
  const ring = KeyRing.parse(`k1:${K1}`);
  assert.throws(() => ring.seal('x', ''), TypeError);
  assert.throws(() => ring.open(ring.seal('x', AAD), ''), TypeError);
});

test('development without keys: a key is generated once into the data dir (0600), reused, with a loud warning', () => {
  const dataDir = join(tempDir(), 'nested', 'data');
  const logger = createMemoryLogger();
  const first = loadKeyRing({ spec: null, env: 'development', dataDir, logger });
  const keyFile = join(dataDir, 'encryption.key');
  if (process.platform !== 'win32') assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  const sealed = first.seal(TOKENS, AAD);

  const second = loadKeyRing({ spec: null, env: 'development', dataDir, logger });
  assert.equal(second.primaryKeyId, first.primaryKeyId);
  assert.equal(second.open(sealed, AAD), TOKENS, 'the second start reads what the first one sealed');

  const warnings = logger.lines.map((line) => JSON.parse(line) as { level: string; msg: string; generated: boolean; path: string });
  assert.equal(warnings.length, 2);
  for (const warning of warnings) {
    assert.equal(warning.level, 'warn');
    assert.equal(warning.path, keyFile);
    assert.match(warning.msg, /DEVELOPMENT key stored at .*encryption\.key/);
    assert.match(warning.msg, /Production needs TOKENKEEPER_ENCRYPTION_KEYS/);
  }
  assert.deepEqual(warnings.map((warning) => warning.generated), [true, false]);

  const keyLine = readFileSync(keyFile, 'utf8').split('\n').find((line) => line !== '' && !line.startsWith('#'))!;
  assert.ok(!logger.lines.join('').includes(keyLine.split(':')[1]!), 'the key itself is never logged');
  assert.equal(KeyRing.parse(keyLine).open(sealed, AAD), TOKENS, 'the file line can be pasted into TOKENKEEPER_ENCRYPTION_KEYS');
});

test('a development key file readable by others is tightened to 0600', { skip: process.platform === 'win32' }, () => {
  const dataDir = tempDir();
  loadKeyRing({ spec: null, env: 'development', dataDir, logger: createMemoryLogger() });
  chmodSync(join(dataDir, 'encryption.key'), 0o644);
  const logger = createMemoryLogger();
  loadKeyRing({ spec: null, env: 'development', dataDir, logger });
  assert.equal(statSync(join(dataDir, 'encryption.key')).mode & 0o777, 0o600);
  assert.match(logger.lines.join(''), /was readable by other users; its mode is now 0600/);
});

test('a damaged development key file stops start-up instead of being replaced', () => {
  const dataDir = tempDir();
  writeFileSync(join(dataDir, 'encryption.key'), 'dev1:truncated\n', { mode: 0o600 });
  assert.throws(
    () => loadKeyRing({ spec: null, env: 'development', dataDir, logger: createMemoryLogger() }),
    (error: unknown) => isTokenkeeperError(error, 'config_invalid') && /encryption\.key is damaged/.test(error.message),
  );
  assert.equal(readFileSync(join(dataDir, 'encryption.key'), 'utf8'), 'dev1:truncated\n');
});

test('production without keys refuses to load a key ring and writes no key file', () => {
  const dataDir = tempDir();
  assert.throws(
    () => loadKeyRing({ spec: null, env: 'production', dataDir, logger: createMemoryLogger() }),
    (error: unknown) =>
      isTokenkeeperError(error, 'config_invalid') &&
      /TOKENKEEPER_ENCRYPTION_KEYS is required in production/.test(error.message) &&
      /npx tokenkeeper keys generate-encryption-key/.test(error.message),
  );
  assert.throws(() => statSync(join(dataDir, 'encryption.key')), { code: 'ENOENT' });
});

test('configured keys are used as given, in any environment, without a warning', () => {
  const logger = createMemoryLogger();
  const dataDir = tempDir();
  const ring = loadKeyRing({ spec: `k2:${K2},k1:${K1}`, env: 'production', dataDir, logger });
  assert.equal(ring.primaryKeyId, 'k2');
  assert.deepEqual(logger.lines, []);
  assert.throws(() => statSync(join(dataDir, 'encryption.key')), { code: 'ENOENT' });
  assert.throws(
    () => loadKeyRing({ spec: 'k1:nope', env: 'development', dataDir, logger }),
    (error: unknown) => isTokenkeeperError(error, 'config_invalid') && /^TOKENKEEPER_ENCRYPTION_KEYS: /.test(error.message),
  );
});

test('hashSecret is a stable SHA-256 hex digest', () => {
  assert.equal(hashSecret('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(hashSecret('tk_live_123'), hashSecret('tk_live_123'));
  assert.notEqual(hashSecret('tk_live_123'), hashSecret('tk_live_124'));
});

test('safeEqual compares by content, whatever the lengths', () => {
  assert.equal(safeEqual('cron-secret-0123456789', 'cron-secret-0123456789'), true);
  assert.equal(safeEqual('cron-secret-0123456789', 'cron-secret-0123456788'), false);
  assert.equal(safeEqual('cron-secret-0123456789', 'cron'), false);
  assert.equal(safeEqual('', ''), true);
  assert.equal(safeEqual('', 'x'), false);
});
