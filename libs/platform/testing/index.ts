export { configProblems, minimalServiceEnv } from './config-problems';
export { apiRoutes, documentedRoutes, openApiProblems } from './api-document';
