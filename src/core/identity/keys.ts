/** OpenSSH public keys: the lines `ssh-keygen` writes to `.pub` and GitHub serves at `<user>.keys`. */
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeBase64, encodeBase64 } from './encoding';
import { SshReader, WireError } from './ssh-wire';

export const keyTypes = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
] as const;

export type KeyType = (typeof keyTypes)[number];

export interface SshPublicKey {
  type: KeyType;
  /** The key in the SSH wire format: what the base64 field of its line holds. */
  blob: Uint8Array;
  /** The curve point: 32 bytes for ed25519, the 65-byte uncompressed point for nistp256. */
  point: Uint8Array;
  /** The FIDO application of a hardware (sk-) key; `ssh:` unless chosen at key creation. */
  application?: string;
  /** As `ssh-keygen -l` prints it: `SHA256:` and the unpadded base64 of the blob's SHA-256. */
  fingerprint: string;
  comment?: string;
}

export type KeyParseResult = { ok: true; key: SshPublicKey } | { ok: false; reason: string };

const keyTypeList = keyTypes.join(', ');

function isKeyType(type: string): type is KeyType {
  return (keyTypes as readonly string[]).includes(type);
}

export function isHardwareKey(type: KeyType): boolean {
  return type.startsWith('sk-');
}

export function usesEd25519(type: KeyType): boolean {
  return type === 'ssh-ed25519' || type === 'sk-ssh-ed25519@openssh.com';
}

/** The fingerprint `ssh-keygen -l -E sha256` prints for a key blob. */
export function fingerprintOf(blob: Uint8Array): string {
  return `SHA256:${encodeBase64(sha256(blob), { pad: false })}`;
}

function validPoint(type: KeyType, point: Uint8Array): boolean {
  try {
    if (usesEd25519(type)) {
      if (point.length !== 32) return false;
      ed25519.Point.fromBytes(point);
    } else {
      if (point.length !== 65 || point[0] !== 0x04) return false;
      p256.Point.fromBytes(point).assertValidity();
    }
    return true;
  } catch {
    return false;
  }
}

/** Reads a key blob (the wire format inside a line or a signature). */
export function parsePublicKeyBlob(blob: Uint8Array): KeyParseResult {
  try {
    const reader = new SshReader(blob);
    const type = reader.text('key type');
    if (!isKeyType(type)) {
      return { ok: false, reason: `unsupported key type '${type}' (expected ${keyTypeList})` };
    }
    if (!usesEd25519(type)) {
      const curve = reader.text('curve name');
      if (curve !== 'nistp256') {
        return { ok: false, reason: `expected curve nistp256 in a ${type} key, got '${curve}'` };
      }
    }
    const point = reader.string('public point').slice();
    const application = isHardwareKey(type) ? reader.text('application') : undefined;
    reader.end('key');
    if (!validPoint(type, point)) {
      return { ok: false, reason: `the ${type} key's public point is not on its curve` };
    }
    return {
      ok: true,
      key: {
        type,
        blob: blob.slice(),
        point,
        ...(application !== undefined ? { application } : {}),
        fingerprint: fingerprintOf(blob),
      },
    };
  } catch (err) {
    if (err instanceof WireError) return { ok: false, reason: `malformed key: ${err.message}` };
    throw err;
  }
}

/**
 * Parses one public key line, `<type> <base64> [comment]`. The line's type must be the one its
 * blob holds, so a line cannot present one kind of key as another.
 */
export function parsePublicKeyLine(line: string): KeyParseResult {
  const match = /^(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(line.trim());
  if (!match) {
    return {
      ok: false,
      reason: `expected an OpenSSH public key line '<type> <base64> [comment]' such as 'ssh-ed25519 AAAAC3Nza... alice@laptop'`,
    };
  }
  const [, type, body, comment] = match as unknown as [string, string, string, string?];
  if (!isKeyType(type)) {
    return { ok: false, reason: `unsupported key type '${type}' (expected ${keyTypeList})` };
  }
  const blob = decodeBase64(body);
  if (!blob) return { ok: false, reason: `the ${type} key's base64 field does not decode` };
  const parsed = parsePublicKeyBlob(blob);
  if (!parsed.ok) return parsed;
  if (parsed.key.type !== type) {
    return { ok: false, reason: `the line says ${type} but its key is ${parsed.key.type}` };
  }
  const text = comment?.trim();
  return { ok: true, key: { ...parsed.key, ...(text ? { comment: text } : {}) } };
}

/** The line for a key, as ssh-keygen writes it. */
export function publicKeyLine(key: SshPublicKey): string {
  return `${key.type} ${encodeBase64(key.blob)}${key.comment ? ` ${key.comment}` : ''}`;
}
