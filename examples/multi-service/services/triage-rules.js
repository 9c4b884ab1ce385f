'use strict';
// The triage service's categories and priorities, and how a model reply is turned into them.

const CATEGORIES = ['billing', 'bug', 'feature-request', 'account', 'other'];
const PRIORITIES = ['low', 'normal', 'high', 'urgent'];

/** The first JSON object in the model's reply, with anything outside the allowed values replaced by the defaults. */
function parseTriage(reply) {
  const match = /\{[\s\S]*\}/.exec(reply);
  let parsed = {};
  if (match) {
    try {
      parsed = JSON.parse(match[0]);
    } catch {
      parsed = {};
    }
  }
  return {
    category: CATEGORIES.includes(parsed.category) ? parsed.category : 'other',
    priority: PRIORITIES.includes(parsed.priority) ? parsed.priority : 'normal',
  };
}

module.exports = { CATEGORIES, PRIORITIES, parseTriage };
