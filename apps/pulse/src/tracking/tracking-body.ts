import { promisify } from 'node:util';
import { gunzip, inflate } from 'node:zlib';
import { ProblemError } from '#platform';
import { isObject } from './segment-message';

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

export const bodyTooLarge = (limit: number) =>
  new ProblemError({
    status: 413,
    type: 'body-too-large',
    title: 'Request body too large',
    detail: `the request body may be at most ${limit} bytes`,
  });

const malformed = (detail: string) => new ProblemError({ status: 400, type: 'malformed-json', title: 'Malformed JSON', detail });

/**
 * The JSON object of a tracking request. analytics.js posts JSON as text/plain (a "simple" request,
 * so browsers skip the CORS preflight), and server libraries may gzip it; both arrive here as
 * bytes. The limit applies to the decompressed size too, so a small zip bomb is still refused.
 */
export async function decodeTrackingBody(
  raw: Buffer | undefined,
  encoding: string | undefined,
  limit: number,
): Promise<Record<string, unknown>> {
  const bytes = await decompress(raw ?? Buffer.alloc(0), (encoding ?? 'identity').trim().toLowerCase(), limit);
  if (bytes.length > limit) throw bodyTooLarge(limit);
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw malformed(bytes.length === 0 ? 'the request body is empty' : 'the request body is not valid JSON');
  }
  if (!isObject(parsed)) throw malformed('the request body must be a JSON object');
  return parsed;
}

async function decompress(bytes: Buffer, encoding: string, limit: number): Promise<Buffer> {
  if (encoding === 'identity' || encoding === '') return bytes;
  const inflater = encoding === 'gzip' || encoding === 'x-gzip' ? gunzipAsync : encoding === 'deflate' ? inflateAsync : undefined;
  if (!inflater) {
    throw new ProblemError({
      status: 415,
      type: 'unsupported-content-encoding',
      title: 'Unsupported Content-Encoding',
      detail: 'send the body as is, gzip or deflate',
    });
  }
  try {
    return await inflater(bytes, { maxOutputLength: limit + 1 });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw bodyTooLarge(limit);
    throw new ProblemError({
      status: 400,
      type: 'bad-content-encoding',
      title: 'Body does not decompress',
      detail: `the body is not valid ${encoding}`,
    });
  }
}
