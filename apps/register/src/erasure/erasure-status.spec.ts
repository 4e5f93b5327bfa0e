import type { RecordedEvent } from '#eventstore';
import { statusOf } from './erasure-requests';

const id = '0193c2a0-0000-8000-8000-000000000001';
let revision = 0n;
const recorded = (type: string, data: Record<string, unknown>): RecordedEvent =>
  ({ type, data, streamName: `privacy.erasure-t.${id}`, revision: revision++ }) as unknown as RecordedEvent;
const requested = recorded('ErasureRequested', { erasureId: id, requestedBy: 'tenant', requestedAt: '2026-12-06T10:00:00.000Z' });
const done = (service: string, completedAt: string) => recorded('ErasureCompleted', { erasureId: id, service, completedAt });

describe('the status of an erasure request', () => {
  test('a request no service completed yet is pending in each', () => {
    expect(statusOf(id, [requested])).toEqual({
      id,
      requestedAt: '2026-12-06T10:00:00.000Z',
      requestedBy: 'tenant',
      status: 'pending',
      completedAt: null,
      services: {
        register: { status: 'pending' },
        login: { status: 'pending' },
        pulse: { status: 'pending' },
        rewards: { status: 'pending' },
      },
    });
  });

  test('it completes with the last of the four, and a completion repeated by a replay keeps its first time', () => {
    const status = statusOf(id, [
      requested,
      done('pulse', '2026-12-06T10:00:00.400Z'),
      done('register', '2026-12-06T10:00:00.100Z'),
      done('pulse', '2026-12-06T10:00:09.000Z'),
      done('login', '2026-12-06T10:00:00.200Z'),
      done('rewards', '2026-12-06T10:00:00.300Z'),
    ]);
    expect(status).toMatchObject({ status: 'completed', completedAt: '2026-12-06T10:00:00.400Z' });
    expect(status!.services.pulse).toEqual({ status: 'done', completedAt: '2026-12-06T10:00:00.400Z' });
  });

  test('three of four is still pending; a completion by a service that is not one of the four counts for nothing', () => {
    const status = statusOf(id, [
      requested,
      done('register', '2026-12-06T10:00:00.100Z'),
      done('login', '2026-12-06T10:00:00.200Z'),
      done('rewards', '2026-12-06T10:00:00.300Z'),
      done('billing', '2026-12-06T10:00:00.400Z'),
    ]);
    expect(status).toMatchObject({ status: 'pending', completedAt: null, services: { pulse: { status: 'pending' } } });
  });

  test('no request, no status', () => {
    expect(statusOf(id, [])).toBeUndefined();
    expect(statusOf(id, [done('register', '2026-12-06T10:00:00.100Z')])).toBeUndefined();
  });
});
