// `@owlk8s/otel/testing`: tools for tests of the pipeline, not part of the library's API.
export type { Issued } from './certs.ts';
export { makeCa, makeSigned } from './certs.ts';
