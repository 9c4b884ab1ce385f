export * from './github-oidc-deployer';
export * from './trust-filter';
