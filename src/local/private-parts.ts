import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** What the local stack relies on in a dependency beyond its public API, and the versions that was checked on. */
export interface PrivatePartsCheck {
  dependency: string;
  /** The version installed now. */
  installed: string;
  /** The versions the private parts were read and tested against. */
  verified: readonly string[];
  /** Each private part by name, with the kind of value it must still be. */
  parts: Record<string, { value: unknown; kind: 'function' | 'object' }>;
  /** What the parts are used for: said in the message when they changed. */
  purpose: string;
}

export class DependencyChangedError extends Error {
  override name = 'DependencyChangedError';
}

/**
 * Fails, in plain words, when a dependency whose private parts the local stack patches is not a version those parts
 * were checked on, or when one of them is missing or of another kind. Called at start-up, before any patch.
 */
export function assertVerifiedPrivateParts(check: PrivatePartsCheck): void {
  const problems: string[] = [];
  if (!check.verified.includes(check.installed))
    problems.push(
      `version ${check.installed} is installed, the parts were checked on ${check.verified.join(', ')}`,
    );
  for (const [name, part] of Object.entries(check.parts)) {
    const kind = part.value === null ? 'null' : typeof part.value;
    if (kind !== part.kind)
      problems.push(`${name} should be ${part.kind === 'object' ? 'an' : 'a'} ${part.kind} but is ${kind}`);
  }
  if (problems.length === 0) return;
  throw new DependencyChangedError(
    `The local stack uses private parts of ${check.dependency} (${Object.keys(check.parts).join(', ')}) to ${check.purpose}, ` +
      `and this ${check.dependency} differs: ${problems.join('; ')}. Read those parts in the new version, adapt ` +
      `the code that uses them, then add the version to the verified list.`,
  );
}

/** The version in the package.json of an installed package (found where Node would look for it). */
export function installedVersion(packageName: string): string {
  const paths = createRequire(import.meta.url).resolve.paths(packageName) ?? [];
  for (const folder of paths) {
    const file = join(folder, packageName, 'package.json');
    if (!existsSync(file)) continue;
    return String((JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version);
  }
  throw new Error(`cannot find the package.json of ${packageName}`);
}
