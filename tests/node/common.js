'use strict';
// Shared by the client scripts: run named steps in order, record each one's value or error, print one
// JSON document. A step that throws is recorded (class, status, body) and the script carries on, so one
// failing call shows up as one failing assertion in tests/test_node_clients.py, not a crashed script.

function describeError(error) {
  if (!(error instanceof Error)) {
    return { class: typeof error, status: null, body: null, message: String(error) };
  }
  return {
    class: error.constructor.name,
    // node-sdk errors carry `statusCode` and `body`; basis-theory-js's BasisTheoryApiError `status` and `data`.
    status: error.statusCode ?? error.status ?? null,
    body: error.body ?? error.data ?? null,
    message: String(error.message).slice(0, 500),
  };
}

function runner() {
  const results = {};
  async function step(name, fn) {
    if (name in results) throw new Error(`step ${name} recorded twice`);
    try {
      const value = await fn();
      results[name] = { ok: true, value: value === undefined ? null : value };
      return value;
    } catch (error) {
      results[name] = { ok: false, error: describeError(error) };
      return undefined;
    }
  }
  function print() {
    process.stdout.write(JSON.stringify(results));
  }
  return { step, print, results };
}

function args() {
  const [baseUrl, apiKey] = process.argv.slice(2);
  if (!baseUrl || !apiKey) {
    process.stderr.write('usage: node <script> BASE_URL API_KEY\n');
    process.exit(2);
  }
  return { baseUrl, apiKey };
}

module.exports = { runner, args };
