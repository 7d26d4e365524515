const NOTICE = 'NodeVersionSupportWarning';

/**
 * The AWS SDK warns once per process, in a 9-line block (process.emitWarning), that its releases after January
 * 2027 will need Node 22. Lambda runs Node 22, and locally on Node 20 the notice is noise. The SDK's own switch is
 * AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED, read when a client is built; instead of writing it into the
 * environment, this drops that one warning when it is emitted. Every other warning still prints, and a user-set
 * AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED still works.
 */
export function dropSdkNodeVersionNotice(): void {
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (typeof warning === 'string' && warning.startsWith(NOTICE)) return;
    Reflect.apply(emitWarning, process, [warning, ...rest]);
  }) as typeof process.emitWarning;
}
