'use strict';
// Reads a service's configuration from SSM Parameter Store once per execution environment. The function's
// environment holds only parameter names (never values), so configuration changes need no redeployment: the next
// cold start reads them.
const { SSMClient, GetParametersCommand } = require('@aws-sdk/client-ssm');

let cached;

/**
 * @param {Record<string, string>} names configuration key -> parameter name
 * @param {SSMClient} [client]
 * @returns {Promise<Record<string, string>>}
 */
async function loadConfig(names, client = new SSMClient({})) {
  if (cached) return cached;
  const wanted = Object.entries(names);
  const missingNames = wanted.filter(([, name]) => !name).map(([key]) => key);
  if (missingNames.length > 0) throw new Error(`No parameter name configured for: ${missingNames.join(', ')}`);
  const result = await client.send(new GetParametersCommand({ Names: wanted.map(([, name]) => name) }));
  if (result.InvalidParameters && result.InvalidParameters.length > 0) {
    throw new Error(`SSM parameters not found: ${result.InvalidParameters.join(', ')}`);
  }
  const byName = new Map((result.Parameters ?? []).map((p) => [p.Name, p.Value]));
  cached = Object.fromEntries(wanted.map(([key, name]) => [key, byName.get(name)]));
  return cached;
}

module.exports = { loadConfig };
