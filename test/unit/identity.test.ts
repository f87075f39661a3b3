import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { CanonicalJsonError, canonicalJson } from '../../src/core/identity/canonical';
import { decodeBase64, encodeBase64, utf8 } from '../../src/core/identity/encoding';
import { fingerprintOf, parsePublicKeyLine } from '../../src/core/identity/keys';
import {
  armorSignature,
  hardwareSignedData,
  parseArmoredSignature,
  sshsigBlob,
  sshsigSignedData,
} from '../../src/core/identity/sshsig';
import { concatBytes } from '../../src/core/identity/encoding';
import { wireMpint, wireString, wireUint32 } from '../../src/core/identity/ssh-wire';
import {
  requestDigest,
  signedStatementSchema,
  statementBytes,
  type Statement,
} from '../../src/core/identity/statement';
import {
  RefusalCode,
  verifyStatement,
  type PolicyPeople,
  type StatementExpectation,
} from '../../src/core/identity/verify';
import { loadChangeRequestFile } from '../../src/load/change';
import { KeyFolder, sshSign, type TestKey } from '../helpers/ssh-keys';

const DIGEST = 'ab'.repeat(32);
const NOW = Date.parse('2026-12-01T02:00:00Z');

function statement(overrides: Partial<Statement> = {}): Statement {
  return {
    changeId: 'CHG-1234',
    requestDigest: DIGEST,
    action: 'approve',
    args: { comment: 'looks good' },
    person: 'bob',
    issuedAt: new Date(NOW - 30_000).toISOString(),
    nonce: 'n0nce-0123456789ab',
    ...overrides,
  };
}

describe('identity: base64', () => {
  it('round-trips any bytes, as Buffer encodes them', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const text = encodeBase64(bytes);
        assert.equal(text, Buffer.from(bytes).toString('base64'));
        assert.deepEqual(decodeBase64(text), bytes);
        assert.deepEqual(decodeBase64(encodeBase64(bytes, { pad: false })), bytes);
      }),
    );
  });

  it('refuses what is not one exact base64 text', () => {
    for (const text of ['A', 'AB=C', 'AB==CD==', 'AB!=', 'AB=', 'AR==', 'QUI=x']) {
      assert.equal(decodeBase64(text), undefined, text);
    }
  });
});

describe('identity: canonical JSON', () => {
  it('sorts keys by code unit, drops whitespace and undefined, writes numbers shortest', () => {
    assert.equal(
      canonicalJson({ b: [1, 2.5, -0, 1e21, 1e-7], a: { z: null, y: true }, u: undefined, é: 'x' }),
      '{"a":{"y":true,"z":null},"b":[1,2.5,0,1e+21,1e-7],"é":"x"}',
    );
    assert.equal(
      canonicalJson({ '\u20ac': 1, '\r': 2, '1': 3, A: 4 }),
      '{"\\r":2,"1":3,"A":4,"€":1}',
    );
    assert.equal(
      canonicalJson('line\n"quoted" \u0001 \u2028'),
      '"line\\n\\"quoted\\" \\u0001 \u2028"',
    );
  });

  it('gives the same text whatever order the keys were written in', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const reordered = JSON.parse(
          JSON.stringify(value),
          function (this: unknown, _k, v: unknown) {
            if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
            return Object.fromEntries(Object.entries(v).reverse());
          },
        ) as unknown;
        assert.equal(canonicalJson(reordered), canonicalJson(value));
        assert.deepEqual(JSON.parse(canonicalJson(value)), JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it('refuses what JSON cannot say the same way twice, naming where', () => {
    for (const [value, where] of [
      [{ a: [1, Number.NaN] }, /\(value\)\.a\[1\]: expected a finite number/],
      [{ a: Infinity }, /finite number/],
      [{ s: '\uD800' }, /\(value\)\.s: expected well-formed Unicode/],
      [{ d: new Date(0) }, /\(value\)\.d: expected a plain object/],
      [[undefined], /\(value\)\[0\]: expected a JSON value, got a undefined/],
      [{ n: 1n }, /got a bigint/],
    ] as const) {
      assert.throws(
        () => canonicalJson(value),
        (err: Error) => {
          assert.ok(err instanceof CanonicalJsonError);
          assert.match(err.message, where);
          return true;
        },
      );
    }
  });

  it('signs a statement as its canonical text, fields in order of name', () => {
    assert.equal(
      new TextDecoder().decode(statementBytes(statement())),
      `{"action":"approve","args":{"comment":"looks good"},"changeId":"CHG-1234","issuedAt":"2026-12-01T01:59:30.000Z","nonce":"n0nce-0123456789ab","person":"bob","requestDigest":"${DIGEST}"}`,
    );
  });

  it('digests a change request as the sha256 of its canonical JSON', async () => {
    const request = await loadChangeRequestFile('examples/normal-rolling.yaml');
    const digest = requestDigest(request);
    assert.match(digest, /^[0-9a-f]{64}$/);
    const { createHash } = await import('node:crypto');
    assert.equal(digest, createHash('sha256').update(canonicalJson(request)).digest('hex'));
    const changed = structuredClone(request);
    changed.spec.rollout.image = 'registry.example.com/api-gateway:2.5.1';
    assert.notEqual(requestDigest(changed), digest);
  });
});

describe('identity: signatures made by ssh-keygen', () => {
  let keys: KeyFolder;
  let bob: TestKey;
  let bobEcdsa: TestKey;
  let dan: TestKey;
  let people: PolicyPeople;

  before(async () => {
    keys = await KeyFolder.create();
    [bob, bobEcdsa, dan] = await Promise.all([
      keys.key('bob'),
      keys.key('bob-ecdsa', 'ecdsa'),
      keys.key('dan'),
    ]);
    people = {
      bob: { keys: [bob.publicLine, bobEcdsa.publicLine] },
      dan: { keys: [dan.publicLine] },
      erin: {},
    };
  });
  after(() => keys.close());

  function expecting(overrides: Partial<StatementExpectation> = {}): StatementExpectation {
    return {
      policyPeople: people,
      changeId: 'CHG-1234',
      requestDigest: DIGEST,
      action: 'approve',
      now: NOW,
      usedNonces: new Set(),
      ...overrides,
    };
  }

  async function signed(key: TestKey, s: Statement = statement(), options = {}) {
    return { statement: s, signature: await sshSign(key, statementBytes(s), options) };
  }

  it('parses key lines and prints fingerprints as ssh-keygen does', () => {
    for (const key of [bob, bobEcdsa, dan]) {
      const parsed = parsePublicKeyLine(key.publicLine);
      assert.ok(parsed.ok, key.publicLine);
      assert.equal(parsed.key.fingerprint, key.fingerprint);
      assert.equal(parsed.key.comment, `${key.path.split('/').pop()}@test`);
    }
    const ecdsa = parsePublicKeyLine(bobEcdsa.publicLine);
    assert.ok(
      ecdsa.ok && ecdsa.key.type === 'ecdsa-sha2-nistp256' && ecdsa.key.point.length === 65,
    );
  });

  for (const [name, key, hashAlgorithm] of [
    ['ed25519, sha512 (the default)', () => bob, undefined],
    ['ed25519, sha256', () => bob, 'sha256'],
    ['ecdsa-sha2-nistp256, sha512', () => bobEcdsa, undefined],
    ['ecdsa-sha2-nistp256, sha256', () => bobEcdsa, 'sha256'],
  ] as const) {
    it(`verifies ${name}`, async () => {
      const k = key();
      const verdict = verifyStatement(await signed(k, statement(), { hashAlgorithm }), expecting());
      assert.ok(verdict.ok, JSON.stringify(verdict));
      assert.equal(verdict.person, 'bob');
      assert.equal(verdict.fingerprint, k.fingerprint);
      assert.deepEqual(verdict.statement.args, { comment: 'looks good' });
    });
  }

  it('gives a reason for every refusal', async () => {
    const good = await signed(bob);
    const cases: [string, unknown, Partial<StatementExpectation>, RefusalCode, RegExp][] = [
      ['no payload', undefined, {}, RefusalCode.Malformed, /not a signed statement: \(document\)/],
      ['null', null, {}, RefusalCode.Malformed, /not a signed statement/],
      [
        'a statement without a signature',
        { statement: statement() },
        {},
        RefusalCode.Malformed,
        /signature: required field is missing/,
      ],
      [
        'wrong-typed fields',
        {
          statement: { ...statement(), issuedAt: 5, person: 'two words' },
          signature: good.signature,
        },
        {},
        RefusalCode.Malformed,
        /statement\.person: expected a user handle.*statement\.issuedAt/,
      ],
      [
        "arguments that are not the action's",
        await signed(bob, statement({ action: 'extend', args: { by: '10m' } })),
        { action: 'extend' },
        RefusalCode.Malformed,
        /not the arguments of 'extend': statement\.args\.duration: required field is missing.*statement\.args\.by: unknown field/,
      ],
      [
        'an oversized statement',
        {
          statement: statement({ args: { comment: 'x'.repeat(10_000) } }),
          signature: good.signature,
        },
        {},
        RefusalCode.Malformed,
        /statement\.args: expected a statement of at most 8192 bytes/,
      ],
      [
        'a reserved key',
        JSON.parse(`{"statement":${JSON.stringify(statement())},"signature":"x","__proto__":{}}`),
        {},
        RefusalCode.Malformed,
        /'__proto__' is not a field name/,
      ],
      [
        'an unknown key',
        await signed(dan),
        { policyPeople: { bob: people.bob! } },
        RefusalCode.UnknownKey,
        new RegExp(
          `unknown key ${dan.fingerprint.replace(/[+/]/g, '\\$&')}: no person in the policy has it`,
        ),
      ],
      [
        'a person without keys',
        await signed(dan, statement({ person: 'erin' })),
        { policyPeople: { bob: people.bob!, erin: {} } },
        RefusalCode.NoKeys,
        /erin has no keys in the policy \(people\.erin\.keys\), so cannot act while identity\.mode is signed/,
      ],
      [
        'a changed statement',
        { ...good, statement: { ...good.statement, args: { comment: 'looks bad' } } },
        {},
        RefusalCode.BadSignature,
        /bad signature: the signature does not verify/,
      ],
      [
        "another namespace's signature",
        await signed(bob, statement(), { namespace: 'git' }),
        {},
        RefusalCode.BadSignature,
        /expected namespace 'changectl', got 'git'/,
      ],
      [
        'a signature that is not armored SSHSIG',
        {
          ...good,
          signature: `-----BEGIN SSH SIGNATURE-----\n${encodeBase64(utf8('NOTSIG\0\0\0\x01'))}\n-----END SSH SIGNATURE-----`,
        },
        {},
        RefusalCode.BadSignature,
        /does not start with 'SSHSIG'/,
      ],
      [
        "a forged name (bob's statement signed with dan's key)",
        await signed(dan),
        {},
        RefusalCode.WrongPerson,
        /the statement says bob but is signed with dan's key SHA256:/,
      ],
      [
        'another change',
        good,
        { changeId: 'CHG-99' },
        RefusalCode.WrongChange,
        /for change CHG-1234, not CHG-99/,
      ],
      [
        'another request',
        good,
        { requestDigest: 'cd'.repeat(32) },
        RefusalCode.WrongDigest,
        /for request abababababab…, but CHG-1234's request is cdcdcdcdcdcd…: it was not the one reviewed/,
      ],
      [
        'another action',
        good,
        { action: 'reject' },
        RefusalCode.WrongAction,
        /for 'approve', not 'reject'/,
      ],
      [
        'an old statement',
        good,
        { now: NOW + 5 * 60_000 },
        RefusalCode.Stale,
        /issued at 2026-12-01T01:59:30.000Z, 5m30s before 2026-12-01T02:05:00.000Z \(at most 5m either way\)/,
      ],
      [
        'a statement from the future',
        good,
        { now: NOW - 10 * 60_000 },
        RefusalCode.Stale,
        /9m30s after 2026-12-01T01:50:00.000Z/,
      ],
      [
        'a replay',
        good,
        { usedNonces: new Set(['n0nce-0123456789ab']) },
        RefusalCode.NonceUsed,
        /nonce n0nce-0123456789ab was already used on CHG-1234: a statement counts once/,
      ],
    ];
    for (const [name, payload, expected, code, reason] of cases) {
      const verdict = verifyStatement(payload, expecting(expected));
      assert.equal(verdict.ok, false, name);
      assert.ok(!verdict.ok);
      assert.equal(verdict.code, code, `${name}: ${verdict.reason}`);
      assert.match(verdict.reason, reason, name);
    }
  });

  it('accepts a statement as it comes out of a JSON payload (signal or update)', async () => {
    const payload = JSON.parse(JSON.stringify(await signed(bobEcdsa))) as unknown;
    assert.ok(signedStatementSchema.safeParse(payload).success);
    assert.ok(verifyStatement(payload, expecting()).ok);
  });

  it('never verifies a statement or signature with a flipped byte', async () => {
    for (const key of [bob, bobEcdsa]) {
      const original = await signed(key);
      const text = statementBytes(original.statement);
      const canonical = new TextDecoder().decode(text);
      const parsedSig = parseArmoredSignature(original.signature);
      assert.ok(parsedSig.ok);
      const blob = decodeBase64(
        original.signature.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''),
      )!;
      fc.assert(
        fc.property(
          fc.boolean(),
          fc.nat(),
          fc.integer({ min: 1, max: 255 }),
          (inStatement, at, mask) => {
            let payload: unknown;
            if (inStatement) {
              const bytes = text.slice();
              bytes[at % bytes.length]! ^= mask;
              let changed: unknown;
              try {
                changed = JSON.parse(new TextDecoder().decode(bytes));
              } catch {
                return; // no longer JSON: nothing to verify
              }
              // A flip that means the same statement (say \u001f for \u001F) is not a forgery.
              try {
                if (canonicalJson(changed) === canonical) return;
              } catch {
                // not canonicalisable: verification must refuse it
              }
              payload = { statement: changed, signature: original.signature };
            } else {
              const bytes = blob.slice();
              bytes[at % bytes.length]! ^= mask;
              payload = { statement: original.statement, signature: armorSignature(bytes) };
            }
            assert.equal(verifyStatement(payload, expecting()).ok, false);
          },
        ),
        { numRuns: 300 },
      );
    }
  });
});

describe('identity: hardware (sk-) keys', () => {
  // No authenticator here, so the test plays one: a key pair made with @noble, the public key
  // in OpenSSH's sk- blob, and a signature over what a FIDO key signs (sha256(application),
  // flags, counter, sha256(SSHSIG data)), wrapped as ssh-keygen wraps it.
  const application = 'ssh:';

  function skEd25519(flags: number, counter = 7, s = statement()) {
    const secret = ed25519.utils.randomSecretKey();
    const point = ed25519.getPublicKey(secret);
    const type = 'sk-ssh-ed25519@openssh.com';
    const publicKey = concatBytes(wireString(type), wireString(point), wireString(application));
    const data = sshsigSignedData('changectl', 'sha512', statementBytes(s));
    const signed = ed25519.sign(hardwareSignedData(application, flags, counter, data), secret);
    const signature = concatBytes(
      wireString(type),
      wireString(signed),
      new Uint8Array([flags]),
      wireUint32(counter),
    );
    return {
      line: `${type} ${encodeBase64(publicKey)} bob@yubikey`,
      payload: {
        statement: s,
        signature: armorSignature(
          sshsigBlob({ publicKey, namespace: 'changectl', hashAlgorithm: 'sha512', signature }),
        ),
      },
    };
  }

  function skEcdsa(flags: number, counter = 7, s = statement()) {
    const secret = p256.utils.randomSecretKey();
    const point = p256.getPublicKey(secret, false);
    const type = 'sk-ecdsa-sha2-nistp256@openssh.com';
    const publicKey = concatBytes(
      wireString(type),
      wireString('nistp256'),
      wireString(point),
      wireString(application),
    );
    const data = sshsigSignedData('changectl', 'sha512', statementBytes(s));
    const rs = p256.sign(hardwareSignedData(application, flags, counter, data), secret);
    const signature = concatBytes(
      wireString(type),
      wireString(concatBytes(wireMpint(rs.slice(0, 32)), wireMpint(rs.slice(32)))),
      new Uint8Array([flags]),
      wireUint32(counter),
    );
    return {
      line: `${type} ${encodeBase64(publicKey)} bob@yubikey`,
      payload: {
        statement: s,
        signature: armorSignature(
          sshsigBlob({ publicKey, namespace: 'changectl', hashAlgorithm: 'sha512', signature }),
        ),
      },
    };
  }

  const expect = (line: string): StatementExpectation => ({
    policyPeople: { bob: { keys: [line] } },
    changeId: 'CHG-1234',
    requestDigest: DIGEST,
    action: 'approve',
    now: NOW,
    usedNonces: new Set(),
  });

  for (const [name, make] of [
    ['sk-ssh-ed25519@openssh.com', skEd25519],
    ['sk-ecdsa-sha2-nistp256@openssh.com', skEcdsa],
  ] as const) {
    it(`verifies ${name} when the user was present, and only then`, () => {
      const touched = make(0x01 | 0x04);
      const key = parsePublicKeyLine(touched.line);
      assert.ok(key.ok && key.key.application === 'ssh:');
      assert.equal(key.key.fingerprint, fingerprintOf(key.key.blob));
      const verdict = verifyStatement(touched.payload, expect(touched.line));
      assert.ok(verdict.ok, JSON.stringify(verdict));

      const untouched = make(0x00);
      const refused = verifyStatement(untouched.payload, expect(untouched.line));
      assert.ok(!refused.ok);
      assert.equal(refused.code, RefusalCode.BadSignature);
      assert.match(refused.reason, /the hardware key was not touched \(user-presence flag unset\)/);

      // The flags and counter are signed: claiming presence after the fact does not verify.
      const raw = decodeBase64(
        untouched.payload.signature.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''),
      )!;
      raw[raw.length - 5] = 0x01;
      const forged = { statement: untouched.payload.statement, signature: armorSignature(raw) };
      const verdictForged = verifyStatement(forged, expect(untouched.line));
      assert.ok(!verdictForged.ok);
      assert.match(verdictForged.reason, /the signature does not verify/);
    });
  }

  it('refuses an sk- key line whose blob is another type', () => {
    const { line } = skEd25519(1);
    const body = line.split(' ')[1]!;
    const parsed = parsePublicKeyLine(`ssh-ed25519 ${body}`);
    assert.ok(!parsed.ok);
    assert.match(
      parsed.reason,
      /the line says ssh-ed25519 but its key is sk-ssh-ed25519@openssh.com/,
    );
  });
});
