import { adminTokenCheck } from '#cqrs';

export const ADMIN_TOKEN = Symbol('AdminToken');

/** Checks the admin bearer token: 401 without one, 403 for another (compared in constant time). */
export function requireAdmin(headers: Readonly<Record<string, string | string[] | undefined>>, adminToken: string): void {
  adminTokenCheck(adminToken)(headers);
}
