import { Server } from 'node:net';
import { type FauxqsServer, startFauxqs } from 'fauxqs';
import { assertVerifiedPrivateParts, installedVersion } from '../private-parts.js';

type ListenArgs = Parameters<Server['listen']>;

/** The fauxqs versions whose start-up was read: `startFauxqs` listens on 0.0.0.0, whatever its options say. */
export const VERIFIED_FAUXQS_VERSIONS = ['1.9.2'];

/**
 * Starts the fauxqs SNS/SQS emulator bound to loopback. fauxqs 1.9 always asks for 0.0.0.0 (its `host` option only
 * names the host in queue URLs, and its public `buildApp` gives no way to create queues with URLs the SDK can
 * reach), so while it starts, a listen on the wildcard address is narrowed to 127.0.0.1: the local stack must not be
 * reachable from outside. The fauxqs version is checked first, and the address it listens on after.
 */
export async function startSnsSqsEmulator(port = 0): Promise<FauxqsServer> {
  const original = Server.prototype.listen;
  assertVerifiedPrivateParts({
    dependency: 'fauxqs',
    installed: installedVersion('fauxqs'),
    verified: VERIFIED_FAUXQS_VERSIONS,
    parts: { 'node:net Server.prototype.listen': { value: original, kind: 'function' } },
    purpose: 'keep the emulator on 127.0.0.1 while startFauxqs asks for 0.0.0.0',
  });
  Server.prototype.listen = function listenOnLoopback(this: Server, ...args: ListenArgs) {
    const [first] = args;
    if (
      first &&
      typeof first === 'object' &&
      'host' in first &&
      (first.host === '0.0.0.0' || first.host === '::')
    ) {
      args[0] = { ...first, host: '127.0.0.1' };
    }
    return original.apply(this, args);
  } as Server['listen'];
  let server: FauxqsServer;
  try {
    server = await startFauxqs({ port, logger: false });
  } finally {
    Server.prototype.listen = original;
  }
  if (new URL(server.address).hostname !== '127.0.0.1') {
    await server.stop();
    throw new Error(
      `fauxqs listened on ${server.address}, not on 127.0.0.1: its start-up changed; see VERIFIED_FAUXQS_VERSIONS`,
    );
  }
  return server;
}
