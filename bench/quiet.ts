/**
 * Imported first by run.ts, so that it runs before any module of the functions is loaded: the Powertools logger and
 * metrics read their settings when they are created. Handler logs would drown the table (errors still show), and
 * metrics are disabled locally (as the local stack's environment says): printing them costs the measured paths CPU.
 */
process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
// As in vitest.config.ts: the SDK's notice that its 2027 releases need Node 22 is noise in the table.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
