export { type EsdbEmulator, startEsdbEmulator } from './esdb-emulator/index';
