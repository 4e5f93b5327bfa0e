export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __tesseraPostgres?: { stop(): Promise<void> } }).__tesseraPostgres?.stop();
}
