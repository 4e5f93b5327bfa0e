export { configProblems, minimalServiceEnv } from './config-problems';
export { apiRoutes, documentedRoutes, openApiProblems } from './api-document';
export { eventually, type EventuallyOptions } from './eventually';
