export * from './github-oidc-deployer';
export * from './spa-frontend';
export * from './streaming-llm-proxy';
export * from './vpc-redis-sessions';
