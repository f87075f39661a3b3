/**
 * Keys for the people of a dev stack's policy. A policy copied from examples/ lists people
 * without keys, and in signed mode a person without keys cannot act; the dev stack gives each of
 * them an ed25519 key made by the real `ssh-keygen` in its state folder (kept across runs) and
 * runs the worker with a copy of the policy that lists those public keys.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseDocument } from 'yaml';
import { parsePolicy } from '../load/policy';

const run = promisify(execFile);

export interface DevKey {
  /** The private key file (no passphrase): what CHANGECTL_KEY points at. */
  path: string;
  /** Its `.pub` line, as the policy copy lists it. */
  publicLine: string;
}

export interface DevKeys {
  /** The copy of the policy with the generated keys: what the worker and the CLI read. */
  policyPath: string;
  /** The generated keys by person; people whose keys the policy already lists have none here. */
  keys: Record<string, DevKey>;
  /** People who keep the keys the policy lists (the dev stack cannot act as them). */
  ownKeys: string[];
}

/** The key of `person` in `dir`, made with `ssh-keygen -t ed25519` unless it is already there. */
async function devKey(dir: string, person: string): Promise<DevKey> {
  const path = join(dir, person);
  if (!existsSync(path) || !existsSync(`${path}.pub`)) {
    try {
      await run('ssh-keygen', [
        '-q',
        '-t',
        'ed25519',
        '-N',
        '',
        '-C',
        `${person}@changectl-dev`,
        '-f',
        path,
      ]);
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: string };
      throw new Error(
        e.code === 'ENOENT'
          ? 'ssh-keygen not found: the dev stack makes a key per person with it (install OpenSSH)'
          : `ssh-keygen could not make a key for ${person} at ${path}: ${e.stderr?.trim() || e.message}`,
      );
    }
  }
  const publicLine = (await readFile(`${path}.pub`, 'utf8')).trim();
  return { path, publicLine };
}

/**
 * Writes `<dir>/policy.yaml`: the policy at `sourcePath` (comments and layout kept) with a
 * generated key for every person who has none. Idempotent: existing keys in `dir` are reused,
 * so a restarted dev stack and the changes it already holds keep knowing the same people.
 */
export async function provideDevKeys(sourcePath: string, dir: string): Promise<DevKeys> {
  const text = await readFile(sourcePath, 'utf8');
  const policy = parsePolicy(text, sourcePath);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keys: Record<string, DevKey> = {};
  const ownKeys: string[] = [];
  const document = parseDocument(text);
  for (const [person, entry] of Object.entries(policy.spec.people)) {
    if (entry.keys.length > 0) {
      ownKeys.push(person);
      continue;
    }
    const key = await devKey(dir, person);
    keys[person] = key;
    document.setIn(['spec', 'people', person, 'keys'], [key.publicLine]);
  }
  const policyPath = join(dir, 'policy.yaml');
  // Whole, then renamed: a change that starts meanwhile reads the old copy or the new one.
  await writeFile(`${policyPath}.partial`, document.toString({ lineWidth: 0 }));
  await rename(`${policyPath}.partial`, policyPath);
  return { policyPath, keys, ownKeys };
}
