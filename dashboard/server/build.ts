/** Builds the page with Vite into `outDir` (the tests build into a temporary directory). */
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const CONFIG = fileURLToPath(new URL('../vite.config.ts', import.meta.url));

export async function buildDashboard(outDir: string): Promise<void> {
  await build({ configFile: CONFIG, logLevel: 'silent', build: { outDir, emptyOutDir: true } });
}
