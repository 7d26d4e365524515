import packageJson from '../package.json' with { type: 'json' };

/** The service's version, as package.json names it (bundled into each function that reports it). */
export const serviceVersion: string = packageJson.version;
