'use strict';
// @basis-theory/basis-theory-js (axios) against the sandbox: tokens create / retrieve / update (merge patch)
// / delete / list / search (v1), 3-D Secure sessions and error mapping. 4.30.2 has no webhooks or agentic
// service. It switches any base URL whose host is not `localhost` to https, so BASE_URL must use localhost.
// Usage: node basis_theory_js.js BASE_URL API_KEY; prints one JSON document {step: {ok, value} | {ok, error}}.
const { BasisTheory } = require('@basis-theory/basis-theory-js');
const { runner, args } = require('./common');

const { baseUrl, apiKey } = args();
const { step, print } = runner();
const card = (number) => ({ number, expiration_month: 12, expiration_year: 2030, cvc: '123' });
const MAX_PAGES = 10;

async function pages(list, query) {
  const seen = [];
  for (let page = 1; page <= MAX_PAGES; page += 1) {
    const result = await list({ ...query, page });
    seen.push({ ids: result.data.map((t) => t.id), pagination: result.pagination });
    if (!result.pagination || !result.pagination.totalPages || page >= result.pagination.totalPages) return seen;
  }
  return seen;
}

async function main() {
  // disableTelemetry: otherwise a failed call also tries to POST a log line to Datadog.
  const bt = await new BasisTheory().init(apiKey, { apiBaseUrl: baseUrl, disableTelemetry: true });
  const wrongKey = await new BasisTheory().init('key_live_wrong', { apiBaseUrl: baseUrl, disableTelemetry: true });

  // Tokens
  const visa = await step('create_visa', () => bt.tokens.create(
    { type: 'card', data: card('4242424242424242'), metadata: { owner: 'node', n: '1' } },
    { idempotencyKey: 'js-visa' },
  ));
  await step('create_visa_replay', () => bt.tokens.create(
    { type: 'card', data: card('4242424242424242'), metadata: { owner: 'node', n: '1' } },
    { idempotencyKey: 'js-visa' },
  ));
  const mastercard = await step('create_mastercard', () => bt.tokens.create(
    { type: 'card', data: card('5555555555554444'), metadata: { owner: 'node', n: '2' } },
  ));
  const diners = await step('create_diners', () => bt.tokens.create(
    { type: 'card', data: card('36227206271667'), metadata: { owner: 'other' } },
  ));
  await step('retrieve_visa', () => bt.tokens.retrieve(visa.id));
  await step('retrieve_diners', () => bt.tokens.retrieve(diners.id));
  // JSON merge patch (RFC 7396): `note` is added, `n` removed, `owner` kept.
  await step('update_visa', () => bt.tokens.update(visa.id, { metadata: { note: 'patched', n: null } }, { idempotencyKey: 'js-patch' }));
  await step('retrieve_visa_after_update', () => bt.tokens.retrieve(visa.id));

  await step('list_pages', () => pages((q) => bt.tokens.list(q), { type: 'card', size: 2 }));
  await step('list_by_id', () => bt.tokens.list({ id: [visa.id, diners.id] }));
  await step('list_by_metadata', () => bt.tokens.list({ metadata: { owner: 'other' } }));
  await step('search_metadata', () => bt.tokens.search({ query: 'metadata.owner:node', page: 1, size: 1 }));
  await step('search_metadata_page_2', () => bt.tokens.search({ query: 'metadata.owner:node', page: 2, size: 1 }));
  await step('search_or', () => bt.tokens.search({ query: `id:${mastercard.id} OR id:${diners.id}` }));

  await step('delete_mastercard', () => bt.tokens.delete(mastercard.id));
  await step('retrieve_deleted_mastercard', () => bt.tokens.retrieve(mastercard.id));
  await step('search_after_delete', () => bt.tokens.search({ query: 'metadata.owner:node' }));

  // Error mapping: every failure is a BasisTheoryApiError with the HTTP status and the parsed body
  await step('error_not_found', () => bt.tokens.retrieve('00000000-0000-4000-8000-000000000000'));
  await step('error_bad_request', () => bt.tokens.create({ type: 'card', data: card('4242424242424241') }));
  await step('error_unauthorized', () => wrongKey.tokens.retrieve('00000000-0000-4000-8000-000000000000'));
  await step('error_idempotency_conflict', () => bt.tokens.create(
    { type: 'card', data: card('5555555555554444') }, { idempotencyKey: 'js-visa' },
  ));
  await step('error_unemulated', () => bt.sessions.create());

  // 3-D Secure
  const session = await step('threeds_create', () => bt.threeds.createSession({ tokenId: visa.id, type: 'customer', device: 'browser' }));
  await step('threeds_get', () => bt.threeds.getSessionById(session.id));
  await step('threeds_authenticate', () => bt.threeds.authenticateSession(
    session.id, { authenticationCategory: 'payment', authenticationType: 'payment-transaction' },
  ));
}

main().then(print, (error) => {
  print();
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
