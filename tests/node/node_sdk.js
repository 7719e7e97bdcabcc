'use strict';
// @basis-theory/node-sdk (Fern-generated) against the sandbox: tokens (v2 list and search with cursor
// paging), 3-D Secure sessions, agentic agents/enrollments/instructions, webhooks and error mapping.
// Usage: node node_sdk.js BASE_URL API_KEY; prints one JSON document {step: {ok, value} | {ok, error}}.
const { BasisTheoryClient } = require('@basis-theory/node-sdk');
const { runner, args } = require('./common');

const { baseUrl, apiKey } = args();
const { step, print } = runner();
// No retries: the SDK retries 408, 429 and >= 500 after a second or more, which would only hide a failure.
const client = new BasisTheoryClient({ apiKey, baseUrl, maxRetries: 0, timeoutInSeconds: 10 });

const card = (number) => ({ number, expiration_month: 12, expiration_year: 2030, cvc: '123' });
const DEVICE = {
  screenHeight: 800, screenWidth: 1200, userAgentString: 'Mozilla/5.0', languageCode: 'en-US', timeZone: 'UTC',
  javaScriptEnabled: true, clientDeviceId: 'device-1', clientReferenceId: 'ref-1', platformType: 'WEB',
};
const MAX_PAGES = 10; // a pager that never ends is a failure, not a hang

async function pages(first) {
  const seen = [];
  let page = await first;
  for (;;) {
    seen.push({ ids: page.data.map((t) => t.id), pagination: page.response.pagination ?? null });
    if (!page.hasNextPage() || seen.length >= MAX_PAGES) return seen;
    page = await page.getNextPage();
  }
}

async function all(first) {
  const ids = [];
  for await (const item of await first) {
    ids.push(item.id);
    if (ids.length > 100) break;
  }
  return ids;
}

async function main() {
  // Tokens
  const visa = await step('create_visa', () => client.tokens.create(
    { type: 'card', data: card('4242424242424242'), metadata: { owner: 'node', n: '1' } },
    { idempotencyKey: 'sdk-visa' },
  ));
  await step('create_visa_replay', () => client.tokens.create(
    { type: 'card', data: card('4242424242424242'), metadata: { owner: 'node', n: '1' } },
    { idempotencyKey: 'sdk-visa' },
  ));
  const mastercard = await step('create_mastercard', () => client.tokens.create(
    { type: 'card', data: card('5555555555554444'), metadata: { owner: 'node', n: '2' } },
  ));
  const amex = await step('create_amex', () => client.tokens.create(
    { type: 'card', data: { number: '378282246310005', expiration_month: 1, expiration_year: 2031 }, metadata: { owner: 'other' } },
  ));
  await step('get_visa', () => client.tokens.get(visa.id));
  await step('get_amex', () => client.tokens.get(amex.id));
  await step('update_visa', () => client.tokens.update(visa.id, { metadata: { note: 'patched' } }, { idempotencyKey: 'sdk-patch' }));
  await step('get_visa_after_update', () => client.tokens.get(visa.id));

  await step('list_v2_pages', () => pages(client.tokens.listV2({ type: 'card', size: 2 })));
  await step('list_v2_all', () => all(client.tokens.listV2({ size: 2 })));
  await step('list_v2_fingerprint', () => pages(client.tokens.listV2({ fingerprint: visa.fingerprint })));
  await step('list_v2_metadata', () => pages(client.tokens.listV2({ metadata: { owner: 'other' } })));
  await step('search_v2_metadata', () => pages(client.tokens.searchV2({ query: 'metadata.owner:node', size: 1 })));
  await step('search_v2_and', () => pages(client.tokens.searchV2({ query: 'type:card AND metadata.owner:other' })));
  await step('search_v2_or', () => pages(client.tokens.searchV2({ query: `fingerprint:${visa.fingerprint} OR id:${amex.id}` })));

  await step('delete_mastercard', () => client.tokens.delete(mastercard.id));
  await step('get_deleted_mastercard', () => client.tokens.get(mastercard.id));
  await step('search_v2_after_delete', () => all(client.tokens.searchV2({ query: 'metadata.owner:node' })));

  // Error mapping
  await step('error_not_found', () => client.tokens.get('00000000-0000-4000-8000-000000000000'));
  await step('error_bad_request', () => client.tokens.create({ type: 'card', data: card('4242424242424241') }));
  await step('error_unauthorized', () => new BasisTheoryClient({ apiKey: 'key_live_wrong', baseUrl, maxRetries: 0 })
    .tokens.get('00000000-0000-4000-8000-000000000000'));
  await step('error_idempotency_conflict', () => client.tokens.create(
    { type: 'card', data: card('5555555555554444') }, { idempotencyKey: 'sdk-visa' },
  ));
  // An API the sandbox does not emulate: a 404 problem document, which tokenize maps to a plain BasisTheoryError
  await step('error_unemulated', () => client.tokens.tokenize({ type: 'card', data: card('4242424242424242') }));

  // 3-D Secure
  const session = await step('threeds_create', () => client.threeds.sessions.create(
    { tokenId: visa.id, type: 'customer', device: 'browser' },
  ));
  await step('threeds_get', () => client.threeds.sessions.get(session.id));
  await step('threeds_authenticate', () => client.threeds.sessions.authenticate(
    session.id, { authenticationCategory: 'payment', authenticationType: 'payment-transaction' },
  ));
  await step('threeds_get_missing', () => client.threeds.sessions.get('00000000-0000-4000-8000-000000000000'));

  // Agentic: enrollment (passkey-bypass card), agent, instruction, credentials
  const bypass = await step('create_bypass', () => client.tokens.create({ type: 'card', data: card('4000056655665556') }));
  const enrollment = await step('enrollment_create', () => client.agentic.enrollments.create(
    { tokenId: bypass.id, consumer: { email: 'jane@example.com' } },
  ));
  await step('enrollment_verify', () => client.agentic.enrollments.verify.start(enrollment.id, { deviceContext: DEVICE }));
  await step('enrollment_get', () => client.agentic.enrollments.get(enrollment.id));
  await step('enrollment_create_second', () => client.agentic.enrollments.create(
    { tokenId: bypass.id, consumer: { email: 'john@example.com' } },
  ));
  await step('enrollment_list', () => pages(client.agentic.enrollments.list({ limit: 1 })));
  const agent = await step('agent_create', () => client.agentic.agents.create({ name: 'Node shopper', enrollmentIds: [enrollment.id] }));
  await step('agent_update', () => client.agentic.agents.update(agent.id, { name: 'Node buyer' }));
  await step('agent_get', () => client.agentic.agents.get(agent.id));
  const instruction = await step('instruction_create', () => client.agentic.agents.instructions.create(agent.id, {
    enrollmentId: enrollment.id, amount: { value: '25.00', currency: 'USD' }, description: 'Groceries',
    expiresAt: new Date('2026-01-02T00:00:00Z'),
  }));
  await step('instruction_get', () => client.agentic.agents.instructions.get(agent.id, instruction.id));
  await step('instruction_list', () => pages(client.agentic.agents.instructions.list(agent.id)));
  await step('instruction_verify', () => client.agentic.agents.instructions.verify.start(
    agent.id, instruction.id, { deviceContext: DEVICE },
  ));
  await step('instruction_get_verified', () => client.agentic.agents.instructions.get(agent.id, instruction.id));
  await step('credentials', () => client.agentic.agents.instructions.credentials.create(agent.id, instruction.id, {
    merchant: { name: 'Shop', url: 'https://shop.example.com', countryCode: 'US' },
    products: [{ name: 'Milk', price: 4.99, quantity: 2 }],
  }));
  await step('agent_bad_request', () => client.agentic.agents.create({ name: '' }));
  await step('agent_delete', () => client.agentic.agents.delete(agent.id));
  await step('agent_get_deleted', () => client.agentic.agents.get(agent.id));

  // Webhooks, last: nothing this script does afterwards emits an event to the (unreachable) URL
  await step('webhook_event_types', () => client.webhooks.events.list());
  const hook = await step('webhook_create', () => client.webhooks.create(
    { name: 'node hook', url: 'https://hooks.example.com/node-sdk', events: ['token.created'] },
  ));
  await step('webhook_list', () => client.webhooks.list());
  await step('webhook_get', () => client.webhooks.get(hook.id));
  await step('webhook_update', () => client.webhooks.update(
    hook.id, { name: 'node hook renamed', url: 'https://hooks.example.com/node-sdk/v2', events: ['token.created', 'token.deleted'] },
  ));
  await step('webhook_bad_request', () => client.webhooks.create({ name: 'bad', url: 'not a url', events: ['token.created'] }));
  await step('webhook_delete', () => client.webhooks.delete(hook.id));
  await step('webhook_get_deleted', () => client.webhooks.get(hook.id));
}

main().then(print, (error) => {
  print();
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
