import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
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

describe('the domain', () => {
  const domain = sourceFiles('domain');

  it.each(domain)('%s imports only the domain and src/shared: no SDK, no I/O, no package', (file) => {
    expect(
      importsOf(file).filter((path) => !/^\.\/[\w-]+\.js$|^\.\.\/shared\/[\w-]+\.js$/.test(path)),
    ).toEqual([]);
  });

  it('the import check sees what it must refuse', () => {
    const refused = ['node:fs', '@aws-sdk/client-dynamodb', '../adapters/clock.js', '../config.js'];
    expect(refused.filter((path) => /^\.\/[\w-]+\.js$|^\.\.\/shared\/[\w-]+\.js$/.test(path))).toEqual([]);
  });

  /** Every function of a source text longer than `limit` lines, as `name: lines`. */
  function longFunctions(text: string, limit: number): string[] {
    const source = ts.createSourceFile('source.ts', text, ts.ScriptTarget.Latest, true);
    const found: string[] = [];
    const visit = (node: ts.Node) => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const lineOf = (position: number) => source.getLineAndCharacterOfPosition(position).line;
        const lines = lineOf(node.getEnd()) - lineOf(node.getStart(source)) + 1;
        const named = node.name ?? (ts.isVariableDeclaration(node.parent) ? node.parent.name : undefined);
        if (lines > limit) found.push(`${named?.getText(source) ?? 'a function'}: ${lines}`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
    return found;
  }

  it.each(domain)('%s has no function longer than 60 lines', (file) => {
    expect(longFunctions(readFileSync(`${src}${file}`, 'utf8'), 60)).toEqual([]);
  });

  it('the length check finds declarations, arrow functions and methods, and counts their lines', () => {
    const body = (lines: number) =>
      Array.from({ length: lines - 2 }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const text = [
      `function declared() {\n${body(61)}\n}`,
      `const arrow = () => {\n${body(62)}\n};`,
      `class C {\n method() {\n${body(63)}\n }\n}`,
      `function short() {\n${body(60)}\n}`,
    ].join('\n');
    expect(longFunctions(text, 60)).toEqual(['declared: 61', 'arrow: 62', 'method: 63']);
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
