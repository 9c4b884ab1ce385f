export * from './auth';
export * from './endpoint';
export * from './gateway';
export * from './models';
export * from './options';
export * from './session-store';
export * from './streaming-llm-proxy';
export * from './web-acl';
