/**
 * Signing statements with the operator's SSH key through `ssh-keygen -Y sign`, so passphrase
 * keys, ssh-agent and hardware keys all work. The private key is never read into this process
 * beyond the public part an OpenSSH key file keeps in the clear.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { decodeBase64 } from '../core/identity/encoding';
import { parsePublicKeyBlob, parsePublicKeyLine, type SshPublicKey } from '../core/identity/keys';
import { SshReader, WireError } from '../core/identity/ssh-wire';
import {
  SIGNATURE_NAMESPACE,
  statementBytes,
  type SignedStatement,
  type Statement,
  type StatementAction,
} from '../core/identity/statement';
import { findKeyOwner, type KeyOwner, type PolicyPeople } from '../core/identity/verify';
import { CliError, ExitCode } from './errors';

const PRIVATE_BEGIN = '-----BEGIN OPENSSH PRIVATE KEY-----';
const PRIVATE_END = '-----END OPENSSH PRIVATE KEY-----';
const PRIVATE_MAGIC = 'openssh-key-v1\0';

/** The public key an OpenSSH private key file carries unencrypted ahead of its secret part. */
function publicKeyOfPrivateKeyFile(text: string): Uint8Array | undefined {
  const start = text.indexOf(PRIVATE_BEGIN);
  const end = text.indexOf(PRIVATE_END);
  if (start === -1 || end === -1) return undefined;
  const blob = decodeBase64(text.slice(start + PRIVATE_BEGIN.length, end).replace(/\s+/g, ''));
  if (!blob) return undefined;
  try {
    const reader = new SshReader(blob);
    const magic = new TextDecoder().decode(reader.raw(PRIVATE_MAGIC.length, 'magic'));
    if (magic !== PRIVATE_MAGIC) return undefined;
    reader.string('cipher name');
    reader.string('kdf name');
    reader.string('kdf options');
    if (reader.uint32('key count') < 1) return undefined;
    return reader.string('public key');
  } catch (err) {
    if (err instanceof WireError) return undefined;
    throw err;
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(ExitCode.InvalidInput, `cannot read key ${path}: ${(err as Error).message}`);
  }
}

/**
 * The public key of the key at `path`: a `.pub` line, an OpenSSH private key (its public part),
 * or failing those the `.pub` file beside it.
 */
export async function readPublicKey(path: string): Promise<SshPublicKey> {
  const text = await readText(path);
  if (text === undefined) {
    throw new CliError(ExitCode.InvalidInput, 'invalid key:', [
      { path: '--key', message: `no such file: ${path}` },
    ]);
  }
  const embedded = publicKeyOfPrivateKeyFile(text);
  if (embedded) {
    const parsed = parsePublicKeyBlob(embedded);
    if (parsed.ok) return parsed.key;
    throw new CliError(ExitCode.InvalidInput, 'invalid key:', [
      { path: '--key', message: `${path}: ${parsed.reason}` },
    ]);
  }
  if (!text.includes('PRIVATE KEY')) {
    const parsed = parsePublicKeyLine(text.trim().split('\n')[0] ?? '');
    if (parsed.ok) return parsed.key;
    throw new CliError(ExitCode.InvalidInput, 'invalid key:', [
      { path: '--key', message: `${path}: ${parsed.reason}` },
    ]);
  }
  const pub = await readText(`${path}.pub`);
  const parsed = pub === undefined ? undefined : parsePublicKeyLine(pub.trim());
  if (parsed?.ok) return parsed.key;
  throw new CliError(ExitCode.InvalidInput, 'invalid key:', [
    {
      path: '--key',
      message: `${path} is not an OpenSSH key (expected a key made by ssh-keygen, such as 'ssh-keygen -t ed25519', or its .pub)`,
    },
  ]);
}

/** `--key`, then CHANGECTL_KEY; a command that signs cannot go on without one. */
export function requireKeyPath(keyPath: string | undefined): string {
  if (keyPath) return keyPath;
  throw new CliError(ExitCode.InvalidInput, 'no signing key:', [
    {
      path: '--key',
      message: 'pass --key <file> or set CHANGECTL_KEY (a key made with ssh-keygen -t ed25519)',
    },
  ]);
}

/**
 * The person whose key it is, and the key as the policy lists it (with its comment), refusing
 * (exit 3) a key no one has or an `--as` that differs.
 */
export function ownerOfKey(
  people: PolicyPeople,
  key: SshPublicKey,
  as: string | undefined,
  policyName: string,
): KeyOwner {
  const owner = findKeyOwner(people, key.blob);
  if (!owner) {
    throw new CliError(
      ExitCode.Refused,
      `refused: key ${key.fingerprint} is no one's in policy ${policyName}: add its .pub line to people.<name>.keys`,
    );
  }
  if (as !== undefined && as !== owner.person) {
    throw new CliError(
      ExitCode.Refused,
      `refused: --as ${as}, but key ${key.fingerprint} is ${owner.person}'s: you act as the person whose key signs`,
    );
  }
  return owner;
}

/** A fresh statement: issued now, with a random nonce. */
export function newStatement(fields: {
  changeId: string;
  requestDigest: string;
  action: StatementAction;
  args: Statement['args'];
  person: string;
  now?: Date;
}): Statement {
  const { now = new Date(), ...rest } = fields;
  return { ...rest, issuedAt: now.toISOString(), nonce: randomBytes(16).toString('base64url') };
}

/** Where ssh-keygen's own chatter goes: prompts to touch a hardware key must reach the person. */
export interface SignerOutput {
  write(text: string): unknown;
}

/**
 * Signs a statement with `ssh-keygen -Y sign -n changectl -f <key>`; the message goes on stdin.
 * `env` reaches ssh-keygen over the process's own (SSH_AUTH_SOCK for a key held by an agent).
 */
export function signStatement(
  statement: Statement,
  keyPath: string,
  stderr: SignerOutput,
  { env = {}, sshKeygen = 'ssh-keygen' }: { env?: NodeJS.ProcessEnv; sshKeygen?: string } = {},
): Promise<SignedStatement> {
  return new Promise((resolve, reject) => {
    const child = spawn(sshKeygen, ['-Y', 'sign', '-n', SIGNATURE_NAMESPACE, '-f', keyPath], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let signature = '';
    let errors = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (signature += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      const shown = chunk.replace(/^Signing data on standard input\n?/m, '');
      errors += shown;
      if (shown) stderr.write(shown);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'ENOENT'
          ? new CliError(
              ExitCode.Failed,
              `${sshKeygen} not found: signing needs OpenSSH 8.1 or later`,
            )
          : err,
      );
    });
    child.on('close', (code) => {
      if (code === 0 && signature.includes('BEGIN SSH SIGNATURE')) {
        resolve({ statement, signature });
      } else {
        const why = errors.trim().split('\n').pop() || `exit ${code}`;
        reject(new CliError(ExitCode.Failed, `ssh-keygen could not sign with ${keyPath}: ${why}`));
      }
    });
    child.stdin.on('error', () => {
      // ssh-keygen exited before reading its input; 'close' says why.
    });
    child.stdin.end(statementBytes(statement));
  });
}
