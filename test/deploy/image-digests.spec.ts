import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { customers, k8s, renderedOf, type K8sObject } from '../support/kustomize';

/**
 * Customers' overlays are what Argo CD deploys to production: there every image is pinned by
 * digest (kustomize `images:` with `digest:`, and CloudNativePG's `imageName`), so a re-pushed tag
 * cannot change what runs. The tiers and sites stay on tags: they are templates, and the digest
 * of Tessera's own image exists only once a release is built and pushed. The example customers
 * carry placeholder digests (all zeros) and say `"production": false`; a customer that says
 * `"production": true` must carry real ones.
 */

interface Container {
  readonly name: string;
  readonly image: string;
}

/** Every image a render runs, with where: containers and init containers of every workload, and CloudNativePG's. */
function imagesOf(objects: K8sObject[]): { where: string; image: string }[] {
  const found: { where: string; image: string }[] = [];
  for (const object of objects) {
    const pod = object.kind === 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec?.template?.spec;
    for (const container of [...((pod?.containers ?? []) as Container[]), ...((pod?.initContainers ?? []) as Container[])])
      found.push({ where: `${object.kind}/${object.metadata.name} ${container.name}`, image: container.image });
    if (object.apiVersion === 'postgresql.cnpg.io/v1' && object.kind === 'Cluster')
      found.push({ where: `Cluster/${object.metadata.name}`, image: object.spec.imageName });
  }
  return found;
}

const DIGEST = /@sha256:([0-9a-f]{64})$/;
/** A digest no registry hands out: one hex digit repeated (the examples' zeros, or a hand-typed stand-in). */
const isPlaceholder = (image: string) => /^(.)\1{63}$/.test(DIGEST.exec(image)?.[1] ?? '');
const isProduction = (customer: string) =>
  (JSON.parse(readFileSync(join(k8s, 'customers', customer, 'customer.json'), 'utf8')) as { production?: boolean }).production === true;

describe.each(customers)('images of k8s/customers/%s', (customer) => {
  const images = imagesOf(renderedOf(`customers/${customer}`));

  test('every image is pinned by digest, none by tag alone', () => {
    expect(images.length).toBeGreaterThan(0);
    expect(images.filter(({ image }) => !DIGEST.test(image))).toEqual([]);
  });

  test('a production customer runs no placeholder digest; an example one is refused until its digests are real', () => {
    const placeholders = images.filter(({ image }) => isPlaceholder(image));
    if (isProduction(customer)) expect(placeholders).toEqual([]);
    // Not production (yet): the check sees its placeholders, so turning production on without real digests fails here.
    else expect(placeholders.length).toBeGreaterThan(0);
  });
});

test('the tiers and sites leave images to the customers: the services share one image, by tag', () => {
  const tags = new Set(imagesOf(renderedOf('overlays/enterprise')).map(({ image }) => image));
  expect([...tags].filter((image) => image.startsWith('tessera'))).toEqual(['tessera:0.1.0']);
});
