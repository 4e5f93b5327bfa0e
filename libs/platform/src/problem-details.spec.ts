import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { createServiceApp } from './service-app';
import { LogCapture } from './testing/log-capture';
import { TinyServiceModule } from './testing/tiny-service';

describe('problem details', () => {
  let app: NestFastifyApplication;
  const logs = new LogCapture();

  beforeAll(async () => {
    app = await createServiceApp(TinyServiceModule, {
      serviceName: 'problems-test',
      logDestination: logs,
      http: { bodyLimitBytes: 1024 },
      shutdown: { drainDelayMs: 0 },
      processMetrics: false,
    });
  });

  afterAll(() => app.close());

  const http = () => request(app.getHttpServer());

  test('malformed JSON is a 400 problem', async () => {
    const response = await http().post('/accounts').set('content-type', 'application/json').send('{"email": ');
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({
      type: 'https://tessera.dev/problems/malformed-json',
      title: 'Malformed JSON',
      status: 400,
      instance: '/accounts',
    });
    expect(typeof response.body.requestId).toBe('string');
  });

  test('a body failing its schema names every bad field by JSON pointer, without echoing values', async () => {
    const response = await http()
      .post('/accounts')
      .send({ email: 'not-an-address', password: 'short-pass', profile: { nickname: 'x' } });
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ type: 'https://tessera.dev/problems/validation-failed', status: 400 });
    const pointers = (response.body.errors as Array<{ pointer: string; message: string }>).map((e) => e.pointer).sort();
    expect(pointers).toEqual(['/email', '/password', '/profile/displayName', '/profile/nickname']);
    expect(response.body.errors).toContainEqual({ pointer: '/profile/displayName', message: 'required' });
    expect(response.body.errors).toContainEqual({ pointer: '/profile/nickname', message: 'unknown field' });
    expect(response.text).not.toContain('short-pass');
  });

  test('a valid body passes through', async () => {
    const response = await http()
      .post('/accounts')
      .send({ email: 'ada@example.com', password: 'correct horse battery', profile: { displayName: 'Ada' } });
    expect(response.status).toBe(201);
    expect(response.body).toEqual({ email: 'ada@example.com' });
  });

  test.each([
    ['{"email":"ada@example.com","__proto__":{"admin":true}}', ['']],
    ['{"profile":{"\\u005f_proto__":[]}}', ['/profile']],
    ['{"tags":[1,{"constructor":{"prototype":{"x":1}}}]}', ['/tags/1']],
  ])('a well-formed body holding a prototype key (%s) is refused, naming the object that holds it', async (raw, expected) => {
    const response = await http().post('/accounts').set('content-type', 'application/json').send(raw);
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body.type).toBe('https://tessera.dev/problems/validation-failed');
    expect((response.body.errors as Array<{ pointer: string }>).map((e) => e.pointer)).toEqual(expected);
  });

  test('a key that only mentions the prototype, and an empty body, are told apart', async () => {
    // Passes the parser (a field named "constructor" holding text is harmless) and fails the schema instead.
    const harmless = await http().post('/accounts').set('content-type', 'application/json').send('{"constructor":"x","proto":1}');
    expect(harmless.body.type).toBe('https://tessera.dev/problems/validation-failed');
    expect((harmless.body.errors as Array<{ pointer: string }>).map((e) => e.pointer)).not.toContain('');
    const empty = await http().post('/accounts').set('content-type', 'application/json').send('');
    expect(empty.status).toBe(400);
    expect(empty.body.type).toBe('https://tessera.dev/problems/malformed-json');
  });

  test('a body over the limit is a 413 problem', async () => {
    const response = await http()
      .post('/accounts')
      .send({ email: 'ada@example.com', password: 'x'.repeat(4096) });
    expect(response.status).toBe(413);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ type: 'https://tessera.dev/problems/body-too-large', status: 413 });
  });

  test('an unsupported content type is a 415 problem', async () => {
    const response = await http().post('/accounts').set('content-type', 'application/xml').send('<account/>');
    expect(response.status).toBe(415);
    expect(response.body).toMatchObject({ type: 'https://tessera.dev/problems/unsupported-media-type', status: 415 });
  });

  test('an unknown route is a 404 problem that does not echo the query string', async () => {
    const response = await http().get('/no/such/route?token=eyJhbGciOi.secret');
    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({
      type: 'https://tessera.dev/problems/route-not-found',
      status: 404,
      instance: '/no/such/route',
    });
    expect(response.text).not.toContain('secret');
  });

  test('a thrown ProblemError keeps its type, detail and extensions', async () => {
    const response = await http().get('/accounts/taken');
    expect(response.status).toBe(409);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({
      type: 'https://tessera.dev/problems/email-taken',
      title: 'E-mail address already registered',
      status: 409,
      detail: 'Sign in instead, or reset the password',
      instance: '/accounts/taken',
      retryable: false,
    });
  });

  test("a Nest HttpException keeps the handler's message", async () => {
    const response = await http().get('/accounts/missing');
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ type: 'https://tessera.dev/problems/not-found', title: 'Not Found', detail: 'No such account' });
  });

  test('an unexpected error is a generic 500; the cause is logged, never sent', async () => {
    const response = await http().get('/crash');
    expect(response.status).toBe(500);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ type: 'https://tessera.dev/problems/internal-error', status: 500 });
    expect(response.text).not.toContain('hunter2');
    expect(response.text).not.toContain('at ');
    const logged = logs.entries.find((entry) => entry.msg === 'unhandled error' && entry.requestId === response.body.requestId);
    expect(logged).toMatchObject({ level: 'error', route: '/crash', err: { type: 'Error' } });
    expect(JSON.stringify(logged)).toContain('TinyController.crash');
    // URL credentials inside error messages are scrubbed before they reach the log.
    expect(logs.text).not.toContain('hunter2');
  });
});
