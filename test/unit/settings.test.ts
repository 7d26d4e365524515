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
