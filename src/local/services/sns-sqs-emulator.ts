import { Server } from 'node:net';
import { type FauxqsServer, startFauxqs } from 'fauxqs';

type ListenArgs = Parameters<Server['listen']>;

/**
 * Starts the fauxqs SNS/SQS emulator bound to loopback. fauxqs 1.9 always asks for 0.0.0.0, so while it starts,
 * a listen on the wildcard address is narrowed to 127.0.0.1: the local stack must not be reachable from outside.
 */
export async function startSnsSqsEmulator(port = 0): Promise<FauxqsServer> {
  const original = Server.prototype.listen;
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
  try {
    return await startFauxqs({ port, logger: false });
  } finally {
    Server.prototype.listen = original;
  }
}
