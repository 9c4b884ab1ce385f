export * from './auth';
export * from './engine';
export * from './vpc-redis-sessions';
