/**
 * The ElastiCache RBAC access string of the user the proxy connects as: keys under `llm:` only, and only the commands
 * the Redis runtime in lambda/shared/redis uses (including those its Lua scripts call). The runtime tests create an
 * ACL user with exactly this string on a real redis-server, so a command the runtime needs cannot go missing here.
 *
 * @internal
 */
export const SESSIONS_USER_ACCESS_STRING =
  'on ~llm:* -@all +ping +get +set +del +expire +pexpire +incrby +zadd +zcard +zrange +zremrangebyscore +eval +evalsha';

/** The key prefix the access string allows (lambda/shared/redis/keys.ts writes only under it). @internal */
export const SESSIONS_KEY_PREFIX = 'llm:';
