import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../../src/', import.meta.url));

/** The .ts files below a folder of src, as paths relative to src. */
function sourceFiles(folder: string): string[] {
  return readdirSync(`${src}${folder}`, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => `${folder}/${file}`);
}

/** Every module a file imports, statically or dynamically, as written. */
function importsOf(file: string): string[] {
  const text = readFileSync(`${src}${file}`, 'utf8');
  return [...text.matchAll(/(?:from|import\()\s*'([^']+)'/g)].map((match) => match[1] ?? '');
}

describe('the layers', () => {
  // Redrive still builds its own wiring (issue 9, item 3 gives it a composition module of its own).
  const handlers = sourceFiles('handlers').filter((file) => file !== 'handlers/redrive.ts');

  it.each(handlers)('%s reads storage only through the domain ports and builds no wiring', (file) => {
    expect(importsOf(file).filter((path) => /adapters\/(dynamodb\/|shards)|composition/.test(path))).toEqual(
      [],
    );
  });

  it.each(sourceFiles('functions'))('%s only builds its handler from a production wiring', (file) => {
    const statements = readFileSync(`${src}${file}`, 'utf8').trim().split(/;\n+/);
    expect(statements).toEqual([
      expect.stringMatching(/^import \{ production\w+Wiring \} from '\.\.\/composition\/[\w-]+\.js'$/),
      expect.stringMatching(/^import \{ build\w+Handler \} from '\.\.\/handlers\/[\w-]+\.js'$/),
      expect.stringMatching(/^export const handler = build\w+Handler\(production\w+Wiring\(\)\);?$/),
    ]);
  });
});

describe('the environment', () => {
  /** Assignments to process.env (`=`, `??=`, `||=`, `&&=`), Object.assign into it, and deletions from it. */
  const writes =
    /process\.env(?:\.\w+|\[[^\]]+\])\s*(?:\?\?|\|\||&&)?=(?!=)|Object\.assign\(\s*process\.env\b|delete\s+process\.env\b/g;

  it('the pattern finds the ways of writing it', () => {
    const samples = [
      "process.env.A = 'x'",
      "process.env.A ??= 'x'",
      "process.env[name] ||= 'x'",
      'Object.assign(process.env, env)',
      'delete process.env.A',
    ];
    expect(samples.filter((sample) => sample.match(writes))).toEqual(samples);
    expect("process.env.A === 'x' || process.env.B ?? process.env.C".match(writes)).toBeNull();
  });

  it.each(sourceFiles('local'))('%s never writes process.env', (file) => {
    expect(readFileSync(`${src}${file}`, 'utf8').match(writes) ?? []).toEqual([]);
  });

  it.each(sourceFiles('handlers'))(
    '%s reads no environment: its wiring carries the configuration',
    (file) => {
      expect(readFileSync(`${src}${file}`, 'utf8')).not.toMatch(/process\.env/);
    },
  );
});
