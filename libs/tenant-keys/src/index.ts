/**
 * Tenant keys as every service checks them: the rows each service projects from register's key
 * events into its own `{service}_tenant_keys` table (through the fold in #contracts), the cached
 * lookup of a presented key, and the API-key check with its 401/403 answers.
 */
export { authorizeApiKey, bearerUnauthorized, type ApiKeyOptions } from './api-key';
export { keyRingFromStream } from './key-ring-stream';
export { TENANT_KEY_CACHE_TTL_MS, TenantKeyLookup, type TenantKeyEntry, type TenantKeyLookupOptions } from './tenant-key-lookup';
export { applyTenantKeyEvents, tenantKeysTableDdl } from './tenant-key-rows';
