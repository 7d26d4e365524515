// Deploy-time checks of iot-presence's parameters, resolved by osls while it reads serverless.yml, so that a wrong
// setting stops `serverless package` and `serverless deploy` before anything reaches AWS.
//
// CommonJS because osls loads variable files with require().
'use strict';

/** The default of the `cursorSigningKey` parameter in serverless.yml: public, so fit only for throwaway stages. */
const PLACEHOLDER_CURSOR_SIGNING_KEY = 'change-me-in-production-please';
/** Stages that may run with the placeholder key. */
const PLACEHOLDER_STAGES = ['local', 'dev'];

class DeployCheckError extends Error {
  constructor(message) {
    super(message);
    this.name = 'DeployCheckError';
    // osls prints a failed variable function's stack; the message alone says everything.
    this.stack = message;
  }
}

module.exports = {
  /** The cursor signing key, refused when it is the placeholder on any stage but local and dev. */
  cursorSigningKey: async ({ resolveVariable }) => {
    const stage = await resolveVariable('sls:stage');
    const key = await resolveVariable('param:cursorSigningKey');
    if (key === PLACEHOLDER_CURSOR_SIGNING_KEY && !PLACEHOLDER_STAGES.includes(stage)) {
      throw new DeployCheckError(
        `stage "${stage}" cannot be deployed with the placeholder cursorSigningKey: pass ` +
          `--param="cursorSigningKey=<32+ random characters>" (for example $(openssl rand -hex 32)). ` +
          `Only the ${PLACEHOLDER_STAGES.join(' and ')} stages may use the placeholder.`,
      );
    }
    return key;
  },
};
