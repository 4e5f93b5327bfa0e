import { createRequire } from 'node:module';

type LoadAll = (text: string) => unknown[];

/**
 * Parses a multi-document YAML stream. js-yaml is only present as a dependency of jest's coverage
 * tooling (3.x, where the safe loader is `safeLoadAll`; in 4.x `loadAll` is the safe one), so it is
 * loaded by name here and either major works.
 */
export function parseYamlDocuments(text: string): unknown[] {
  const jsYaml = createRequire(__filename)('js-yaml') as { safeLoadAll?: LoadAll; loadAll: LoadAll };
  const loadAll = jsYaml.safeLoadAll ?? jsYaml.loadAll;
  return loadAll(text).filter((document) => document !== null && document !== undefined);
}
