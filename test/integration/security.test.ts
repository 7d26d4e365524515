import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { logger } from '../../src/adapters/observability.js';
import { listeningAddresses } from '../fixtures/listening-sockets.js';
import {
  connectedMessage,
  deliverAt,
  newSession,
  startVirtualStack,
  T0,
  type VirtualStack,
} from '../fixtures/virtual-runtime.js';

let stack: VirtualStack;

beforeAll(async () => {
  stack = await startVirtualStack();
});

afterAll(async () => {
  await stack?.stop();
});

describe('security', () => {
  it('logs a rejection with its reason but never the rejected payload, and no payload at info level', async () => {
    // Arrange
    const lines: string[] = [];
    const capture = (...args: unknown[]) => lines.push(args.map(String).join(' '));
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) =>
      vi.spyOn(console, level).mockImplementation(capture),
    );
    logger.setLogLevel('DEBUG');
    const secret = 'hunter2-do-not-log-me';
    const session = newSession('logged-device', 0);

    try {
      // Act
      await deliverAt(stack, T0 + 1_000, {
        topic: '$aws/events/presence/connected/logged-device',
        payload: { clientId: 'logged-device', eventType: 'connected', password: secret },
      });
      await deliverAt(stack, T0 + 2_000, connectedMessage(session, T0 + 2_000));
    } finally {
      logger.setLogLevel('ERROR');
      for (const spy of spies) spy.mockRestore();
    }

    // Assert
    expect(lines.join('\n')).not.toContain(secret);
    const rejection = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((l) => l.message === 'input rejected');
    expect(rejection).toMatchObject({ level: 'WARN', source: 'presence' });
    expect(String(rejection?.reason)).toMatch(/sessionIdentifier|timestamp|versionNumber/);
    // Accepted events are not logged with their payload either (only kind and outcome, at debug).
    expect(lines.join('\n')).not.toContain('ipAddress');
  });

  it('binds the SNS/SQS emulator to loopback only', () => {
    // Arrange
    const port = Number(new URL(stack.aws.snsSqsEndpoint).port);

    // Act
    const addresses = listeningAddresses(port);

    // Assert
    expect(addresses).toEqual(['127.0.0.1']);
  });
});
