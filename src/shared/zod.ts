/**
 * The validation library of the deployed functions: zod's tree-shakable functional API (zod/mini), so that a bundle
 * holds only the validators it uses. Import it as a namespace (`import * as z from '../shared/zod.js'`) and use only
 * static members (`z.object`), or the bundler keeps all of zod. zod/mini ships no error messages of its own: the
 * English ones of full zod are installed here, so that a rejection reads the same as before.
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';
