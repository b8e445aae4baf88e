/**
 * The floor under bench:api's latencies: an Express app with one route that sends a pre-built JSON body and
 * does nothing else (no auth, no middleware, no database). Run as a child of bench:api and measured with the
 * same autocannon settings: whatever p99 it shows at 100 connections on this machine, no API route can beat.
 * Prints the port it listens on.
 */
import express from 'express';

const body = JSON.stringify({ data: { ok: true }, generatedAt: new Date().toISOString() });
const app = express();
app.set('etag', false);
app.get('/floor', (_req, res) => {
  res.type('application/json').send(body);
});
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on ${typeof address === 'object' && address ? address.port : address}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
