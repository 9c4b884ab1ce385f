export * from './github-oidc-deployer';
export * from './spa-frontend';
