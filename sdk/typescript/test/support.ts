import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package directory (tests run from dist/test/). */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The repository root. */
export const repoRoot = resolve(packageRoot, '../..');

export function readRepoFile(path: string): Buffer {
  return readFileSync(resolve(repoRoot, path));
}

export function readJson<T>(path: string): T {
  return JSON.parse(readRepoFile(path).toString('utf8')) as T;
}
