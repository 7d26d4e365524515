/** The page's build: `npm run build:dashboard` (also run by `npm ci` through `prepare`) writes dashboard/dist. */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export const pageRoot = fileURLToPath(new URL('./page', import.meta.url));
export const defaultOutDir = fileURLToPath(new URL('./dist', import.meta.url));

export default defineConfig({
  root: pageRoot,
  base: '/',
  logLevel: 'warn',
  clearScreen: false,
  build: {
    outDir: defaultOutDir,
    emptyOutDir: true,
    target: 'es2022',
    // One small script: no preload helper for chunks that do not exist.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
