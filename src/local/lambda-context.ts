import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

const ignored = () => undefined;

/** Each function's ARN and log group, made once: a replay builds a context per invocation. */
const functionNames = new Map<string, { arn: string; logGroup: string }>();

function namesOf(functionName: string): { arn: string; logGroup: string } {
  let names = functionNames.get(functionName);
  if (!names) {
    names = {
      arn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
      logGroup: `/aws/lambda/${functionName}`,
    };
    functionNames.set(functionName, names);
  }
  return names;
}

/**
 * The context Lambda hands a function, for invoking handlers in-process. A class, not an object of closures: the
 * replay builds one per invocation, and closures made per call cost it a few percent.
 */
class LocalContext implements Context {
  readonly callbackWaitsForEmptyEventLoop = false;
  readonly functionVersion = '$LATEST';
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB = '256';
  readonly awsRequestId = randomUUID();
  readonly logGroupName: string;
  readonly logStreamName = 'local';
  readonly done = ignored;
  readonly fail = ignored;
  readonly succeed = ignored;
  private readonly started = Date.now();

  constructor(
    readonly functionName: string,
    private readonly timeoutMs: number,
  ) {
    const names = namesOf(functionName);
    this.invokedFunctionArn = names.arn;
    this.logGroupName = names.logGroup;
  }

  getRemainingTimeInMillis(): number {
    return Math.max(0, this.timeoutMs - (Date.now() - this.started));
  }
}

/** The context Lambda hands a function, for invoking handlers in-process. */
export function lambdaContext(functionName: string, timeoutMs = 30_000): Context {
  return new LocalContext(functionName, timeoutMs);
}
