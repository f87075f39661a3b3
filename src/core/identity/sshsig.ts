/**
 * OpenSSH signatures (PROTOCOL.sshsig), as `ssh-keygen -Y sign` makes them: an armored blob
 * holding the signer's public key, a namespace, the hash algorithm and the signature over
 * "SSHSIG" || string(namespace) || string(reserved) || string(hash_algorithm) || string(H(message)).
 * Hardware (sk-) keys sign sha256(application) || flags || counter || sha256(that) instead.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { concatBytes, decodeBase64, encodeBase64, equalBytes, utf8 } from './encoding';
import { isHardwareKey, usesEd25519, type SshPublicKey } from './keys';
import { SshReader, WireError, wireString, wireUint32 } from './ssh-wire';

const MAGIC = utf8('SSHSIG');
const VERSION = 1;
const BEGIN = '-----BEGIN SSH SIGNATURE-----';
const END = '-----END SSH SIGNATURE-----';

export const hashAlgorithms = ['sha512', 'sha256'] as const;
export type HashAlgorithm = (typeof hashAlgorithms)[number];

/** The FIDO flag that says a person touched the key. */
export const USER_PRESENT = 0x01;

export interface SshSignature {
  /** The signer's public key blob, as the signature carries it. */
  publicKey: Uint8Array;
  namespace: string;
  hashAlgorithm: HashAlgorithm;
  /** The signature blob's type: the key type that made it. */
  signatureType: string;
  /** ed25519: the 64-byte signature; ECDSA: the blob holding mpint r and mpint s. */
  signature: Uint8Array;
  /** Hardware keys only: the authenticator's flags and signature counter. */
  hardware?: { flags: number; counter: number };
}

export type Checked<T> = ({ ok: true } & T) | { ok: false; reason: string };

function digest(algorithm: HashAlgorithm, message: Uint8Array): Uint8Array {
  return algorithm === 'sha512' ? sha512(message) : sha256(message);
}

/** The bytes a key signs for a message under a namespace (before the sk- wrapping). */
export function sshsigSignedData(
  namespace: string,
  hashAlgorithm: HashAlgorithm,
  message: Uint8Array,
): Uint8Array {
  return concatBytes(
    MAGIC,
    wireString(namespace),
    wireString(''),
    wireString(hashAlgorithm),
    wireString(digest(hashAlgorithm, message)),
  );
}

/** What a hardware key signs: its application's hash, its flags and counter, the data's hash. */
export function hardwareSignedData(
  application: string,
  flags: number,
  counter: number,
  data: Uint8Array,
): Uint8Array {
  return concatBytes(
    sha256(utf8(application)),
    new Uint8Array([flags]),
    wireUint32(counter),
    sha256(data),
  );
}

/** The armored form: the blob in base64, 70 characters a line, between the markers. */
export function armorSignature(blob: Uint8Array): string {
  const body = encodeBase64(blob).match(/.{1,70}/g) ?? [];
  return [BEGIN, ...body, END, ''].join('\n');
}

/** The SSHSIG blob for its parts; tests build hand-made signatures with it. */
export function sshsigBlob(parts: {
  publicKey: Uint8Array;
  namespace: string;
  hashAlgorithm: HashAlgorithm;
  signature: Uint8Array;
}): Uint8Array {
  return concatBytes(
    MAGIC,
    wireUint32(VERSION),
    wireString(parts.publicKey),
    wireString(parts.namespace),
    wireString(''),
    wireString(parts.hashAlgorithm),
    wireString(parts.signature),
  );
}

/** Reads an armored SSH signature; refuses anything that is not exactly one SSHSIG v1. */
export function parseArmoredSignature(armored: string): Checked<{ signature: SshSignature }> {
  const text = armored.replace(/\r\n/g, '\n').trim();
  if (!text.startsWith(BEGIN) || !text.endsWith(END)) {
    return { ok: false, reason: `expected an armored signature between '${BEGIN}' and '${END}'` };
  }
  const body = text.slice(BEGIN.length, text.length - END.length).replace(/\s+/g, '');
  const blob = decodeBase64(body);
  if (!blob) return { ok: false, reason: 'the signature body is not base64' };
  try {
    const reader = new SshReader(blob);
    if (!equalBytes(reader.raw(MAGIC.length, 'magic'), MAGIC)) {
      return { ok: false, reason: "the signature does not start with 'SSHSIG'" };
    }
    const version = reader.uint32('version');
    if (version !== VERSION) {
      return { ok: false, reason: `expected signature version 1, got ${version}` };
    }
    const publicKey = reader.string('public key').slice();
    const namespace = reader.text('namespace');
    if (reader.string('reserved').length !== 0) {
      return { ok: false, reason: 'expected an empty reserved field in the signature' };
    }
    const hashAlgorithm = reader.text('hash algorithm');
    if (!(hashAlgorithms as readonly string[]).includes(hashAlgorithm)) {
      return {
        ok: false,
        reason: `unsupported hash algorithm '${hashAlgorithm}' (expected sha512 or sha256)`,
      };
    }
    const inner = new SshReader(reader.string('signature'));
    reader.end('signature');
    const signatureType = inner.text('signature type');
    const signature = inner.string('signature bytes').slice();
    const hardware = signatureType.startsWith('sk-')
      ? { flags: inner.byte('flags'), counter: inner.uint32('counter') }
      : undefined;
    inner.end('signature blob');
    return {
      ok: true,
      signature: {
        publicKey,
        namespace,
        hashAlgorithm: hashAlgorithm as HashAlgorithm,
        signatureType,
        signature,
        ...(hardware ? { hardware } : {}),
      },
    };
  } catch (err) {
    if (err instanceof WireError)
      return { ok: false, reason: `malformed signature: ${err.message}` };
    throw err;
  }
}

/** r and s of an ECDSA signature blob as the 64-byte compact form noble verifies. */
function compactEcdsa(blob: Uint8Array): Uint8Array | undefined {
  try {
    const reader = new SshReader(blob);
    const r = reader.positiveMpint('r');
    const s = reader.positiveMpint('s');
    reader.end('ECDSA signature');
    if (r.length > 32 || s.length > 32) return undefined;
    const out = new Uint8Array(64);
    out.set(r, 32 - r.length);
    out.set(s, 64 - s.length);
    return out;
  } catch (err) {
    if (err instanceof WireError) return undefined;
    throw err;
  }
}

function curveVerifies(key: SshPublicKey, signature: Uint8Array, data: Uint8Array): boolean {
  try {
    if (usesEd25519(key.type)) {
      return ed25519.verify(signature, data, key.point, { zip215: false });
    }
    const compact = compactEcdsa(signature);
    // OpenSSL does not normalise s, so high-s signatures from ssh-keygen are valid ones.
    return compact !== undefined && p256.verify(compact, data, key.point, { lowS: false });
  } catch {
    return false;
  }
}

/**
 * Whether `signature` is `key`'s signature of `message` under `namespace`. The signature must
 * carry this very key; a hardware signature must say the user was present.
 */
export function verifySshSignature(
  signature: SshSignature,
  key: SshPublicKey,
  message: Uint8Array,
  namespace: string,
): Checked<object> {
  if (!equalBytes(signature.publicKey, key.blob)) {
    return { ok: false, reason: 'the signature carries another key' };
  }
  if (signature.namespace !== namespace) {
    return {
      ok: false,
      reason: `expected namespace '${namespace}', got '${signature.namespace}'`,
    };
  }
  if (signature.signatureType !== key.type) {
    return {
      ok: false,
      reason: `a ${key.type} key cannot make a ${signature.signatureType} signature`,
    };
  }
  let data = sshsigSignedData(namespace, signature.hashAlgorithm, message);
  if (isHardwareKey(key.type)) {
    const { hardware } = signature;
    if (!hardware || key.application === undefined) {
      return { ok: false, reason: 'a hardware key signature needs its flags and counter' };
    }
    if ((hardware.flags & USER_PRESENT) === 0) {
      return { ok: false, reason: 'the hardware key was not touched (user-presence flag unset)' };
    }
    data = hardwareSignedData(key.application, hardware.flags, hardware.counter, data);
  }
  if (!curveVerifies(key, signature.signature, data)) {
    return { ok: false, reason: 'the signature does not verify' };
  }
  return { ok: true };
}
