import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_ROUTE_KEYS, matchRoute } from '../../src/local/http-server.js';
import { projectRoot } from '../fixtures/serverless-template.js';

/** The route column of the README's `## HTTP API` table: `GET /devices?status=…` is the route `GET /devices`. */
function readmeRoutes(): string[] {
  const readme = readFileSync(`${projectRoot}/README.md`, 'utf8');
  const section = readme.split(/^## HTTP API$/m)[1]?.split(/^## /m)[0] ?? '';
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => (/^\| `([^`]+)`/.exec(line)?.[1] ?? '').replace(/\?.*$/, ''));
}

/** A path that fills each `{parameter}` with a sample value. */
const samplePath = (routeKey: string) => routeKey.slice('GET '.length).replace(/\{[^}]+\}/g, 'sample-1');

describe("the README's route table", () => {
  it('lists exactly the routes the router answers, each once', () => {
    // Act
    const routes = readmeRoutes();

    // Assert
    expect(routes.length).toBeGreaterThan(0);
    expect(new Set(routes).size).toBe(routes.length);
    expect([...routes].sort()).toEqual([...API_ROUTE_KEYS].sort());
  });

  it('names routes the router matches to themselves', () => {
    for (const routeKey of readmeRoutes()) {
      expect(matchRoute(samplePath(routeKey))?.routeKey, routeKey).toBe(routeKey);
    }
  });

  it('names the routes serverless.yml deploys', () => {
    // Arrange
    const template = readFileSync(`${projectRoot}/serverless.yml`, 'utf8');
    const deployed = [...template.matchAll(/method: (\w+)\s+path: (\S+)/g)].map(
      ([, method, path]) => `${method?.toUpperCase()} ${path}`,
    );

    // Assert
    expect([...deployed].sort()).toEqual([...readmeRoutes()].sort());
  });
});
