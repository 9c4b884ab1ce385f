export * from './api-backend';
export * from './spa-frontend';
