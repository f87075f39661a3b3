/** Keys and signatures made by the real ssh-keygen, in a temporary folder per test file. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestKey {
  /** The private key file (no passphrase). */
  path: string;
  /** Its `.pub` line. */
  publicLine: string;
  /** As `ssh-keygen -l -E sha256` prints it. */
  fingerprint: string;
}

export type TestKeyType = 'ed25519' | 'ecdsa';

export class KeyFolder {
  private constructor(readonly dir: string) {}

  static async create(): Promise<KeyFolder> {
    return new KeyFolder(await mkdtemp(join(tmpdir(), 'changectl-keys-')));
  }

  async key(name: string, type: TestKeyType = 'ed25519'): Promise<TestKey> {
    const path = join(this.dir, name);
    const size = type === 'ecdsa' ? ['-b', '256'] : [];
    await run('ssh-keygen', [
      '-q',
      '-t',
      type,
      ...size,
      '-N',
      '',
      '-C',
      `${name}@test`,
      '-f',
      path,
    ]);
    const publicLine = (await readFile(`${path}.pub`, 'utf8')).trim();
    const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${path}.pub`]);
    return { path, publicLine, fingerprint: stdout.split(' ')[1]! };
  }

  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** `ssh-keygen -Y sign` of a message, as the CLI signs; the armored signature. */
export function sshSign(
  key: TestKey,
  message: Uint8Array,
  { namespace = 'changectl', hashAlgorithm }: { namespace?: string; hashAlgorithm?: string } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const args = ['-Y', 'sign', '-n', namespace, '-f', key.path];
    if (hashAlgorithm) args.push('-O', `hashalg=${hashAlgorithm}`);
    const child = execFile('ssh-keygen', args, (err, stdout) => {
      if (err) reject(new Error(`ssh-keygen -Y sign: ${err.message}`));
      else resolve(stdout);
    });
    child.stdin!.end(message);
  });
}
