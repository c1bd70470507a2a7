// Runs graphql-http's GraphQL-over-HTTP server audit against the URL given as the only
// argument and prints one JSON array: {id, name, status, reason?, httpStatus?} per audit.
// Used by tests/e2e/test_http_audit.py; `npm ci` in this folder installs graphql-http.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs http://127.0.0.1:PORT/graphql');
  process.exit(2);
}
const results = await auditServer({ url });
const report = [];
for (const result of results) {
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    entry.reason = result.reason;
    entry.httpStatus = result.response.status;
    try {
      entry.body = (await result.response.text()).slice(0, 500);
    } catch {
      entry.body = null;
    }
  }
  report.push(entry);
}
console.log(JSON.stringify(report));
