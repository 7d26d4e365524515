// Runs one packaged function as the Lambda Node.js runtime does: imports the handler module of the unzipped
// artifact once (the cold start, timed), then handles the invocations its parent sends over IPC, one at a time.
// Plain JavaScript: it runs on the pinned Node.js 24 binary, without the test runner's TypeScript loader.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [taskRoot, handlerSpec] = process.argv.slice(2);
const dot = handlerSpec.lastIndexOf('.');
const modulePath = join(taskRoot, `${handlerSpec.slice(0, dot)}.mjs`);
const exportName = handlerSpec.slice(dot + 1);

const started = performance.now();
let handler;
try {
  const module = await import(pathToFileURL(modulePath).href);
  handler = module[exportName];
  if (typeof handler !== 'function') throw new Error(`${modulePath} exports no function ${exportName}`);
} catch (error) {
  process.send({ type: 'init-error', error: String(error?.stack ?? error) });
  process.exitCode = 1;
  process.disconnect();
}

if (handler) {
  process.send({ type: 'ready', importMs: performance.now() - started, nodeVersion: process.version });
  let queue = Promise.resolve();
  process.on('message', (message) => {
    queue = queue.then(() => invoke(message));
  });
}

async function invoke({ id, event, context }) {
  const deadline = Date.now() + context.timeoutMs;
  const lambdaContext = {
    ...context,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
  try {
    const result = await handler(event, lambdaContext);
    process.send({ type: 'result', id, ok: true, result: result ?? null });
  } catch (error) {
    process.send({
      type: 'result',
      id,
      ok: false,
      error: { errorType: error?.name ?? 'Error', errorMessage: String(error?.message ?? error) },
    });
  }
}
