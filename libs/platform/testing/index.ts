export { configProblems, minimalServiceEnv } from './config-problems';
