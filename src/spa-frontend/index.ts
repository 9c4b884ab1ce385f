export * from './spa-frontend';
