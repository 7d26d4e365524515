import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, fleetRuleFrom, parseConfig, settingsFrom } from '../../src/config.js';
import { DEFAULT_FLEET_RULE, DEFAULT_SETTINGS } from '../../src/domain/settings.js';
import { SETTINGS } from '../../src/shared/setting-definitions.js';

/** The settings without a default, as a deployment gives them. */
const REQUIRED = {
  EVENTS_TABLE: 'events',
  DEVICES_TABLE: 'devices',
  ALERTS_TABLE: 'alerts',
  REJECTED_TABLE: 'rejected',
  UPTIME_TABLE: 'uptime',
  ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:alerts',
  CHECK_QUEUE_URL: 'http://localhost/queue/checks',
  CURSOR_SIGNING_KEY: 'a-key-of-sixteen-or-more',
};

const serverlessYml = readFileSync(new URL('../../serverless.yml', import.meta.url), 'utf8');
const definitions = Object.entries(SETTINGS);

describe('VERSION_WINDOW_SECONDS', () => {
  it('accepts up to 1,800 seconds', () => {
    expect(parseConfig({ ...REQUIRED, VERSION_WINDOW_SECONDS: '1800' }).VERSION_WINDOW_SECONDS).toBe(1800);
  });

  it.each(['1801', '7200', '86400'])('refuses %s, saying why', (value) => {
    expect(() => parseConfig({ ...REQUIRED, VERSION_WINDOW_SECONDS: value })).toThrow(
      new ConfigurationError(
        'invalid configuration: VERSION_WINDOW_SECONDS: must be at most 1800, because AWS restarts versionNumber ' +
          'after about an hour offline, so a wider window could order a restarted connection before the ones it follows',
      ),
    );
  });
});

describe('every default, defined once', () => {
  it("gives the rules' defaults: an environment without settings reads as DEFAULT_SETTINGS and DEFAULT_FLEET_RULE", () => {
    const config = parseConfig(REQUIRED);
    expect(settingsFrom(config)).toEqual(DEFAULT_SETTINGS);
    expect(fleetRuleFrom(config)).toEqual(DEFAULT_FLEET_RULE);
    for (const [name, definition] of definitions)
      expect(config[name as keyof typeof config]).toBe(definition.default);
  });

  it.each(definitions)("is serverless.yml's stage parameter default for %s", (name, definition) => {
    const defaults = serverlessYml.slice(
      serverlessYml.indexOf('  default:\n'),
      serverlessYml.indexOf('\nprovider:'),
    );
    expect(defaults).toContain(`\n    ${definition.param}: ${definition.default}\n`);
    expect(serverlessYml).toContain(`\n    ${name}: \${param:${definition.param}}\n`);
  });

  it.each(definitions)(
    "is described in serverless.yml's header as the definition of %s says",
    (name, definition) => {
      const range = definition.kind === 'whole' ? `, ${definition.min} to ${definition.max}` : '';
      expect(serverlessYml).toContain(
        `\n#   ${definition.param.padEnd(25)} ${definition.description} (${name}${range})\n`,
      );
    },
  );
});

describe("the README's settings table", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  /** The table's rows by environment variable: [parameter, default, range] as the README writes them. */
  const rows = new Map(
    readme
      .split('\n')
      .filter((line) => /^\| `[a-zA-Z]+` \| `[A-Z_]+` \|/.test(line))
      .map((line) => line.split(' | ').map((cell) => cell.replace(/^\| /, '').trim()))
      .map(([param, variable, defaultValue, range]): [string, unknown[]] => [
        `${variable}`,
        [param, defaultValue, range],
      ]),
  );
  const documented = (definition: (typeof definitions)[number][1]): string[] => {
    const code = (text: string) => `\`${text}\``;
    switch (definition.kind) {
      case 'whole':
        return [String(definition.default), `${definition.min}–${definition.max}`];
      case 'fraction':
        return [String(definition.default), 'over 0, up to 1'];
      case 'choice':
        return [code(definition.default), definition.choices.map(code).join(', ')];
      case 'text':
        return [code(definition.default), 'a topic filter'];
    }
  };

  it.each(definitions)('gives the parameter, default and range of %s', (name, definition) => {
    expect(rows.get(`\`${name}\``)).toEqual([`\`${definition.param}\``, ...documented(definition)]);
  });

  it('lists no setting with a default that the configuration does not define', () => {
    const undefinedHere = [...rows.keys()].filter(
      (variable) => !(variable.slice(1, -1) in SETTINGS) && variable !== '`CURSOR_SIGNING_KEY`',
    );
    expect(undefinedHere).toEqual([]);
  });
});
