#!/usr/bin/env node
/*
 * `npm run sign-in-link`: mints a new one-time console sign-in link from a running api and prints it (the URL alone
 * on stdout). The api is npm start's (http://127.0.0.1:$API_PORT) unless API_URL is set; the token is API_TOKEN,
 * else API_BOOTSTRAP_TOKEN, else the one npm start wrote to .cache/admin-token.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

/** POST /api/sign-in-links; resolves { url, code, expires_at }. */
async function mintSignInLink({ base, token }) {
  const r = await fetch(`${base}/api/sign-in-links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`POST ${base}/api/sign-in-links answered HTTP ${r.status}: ${text}`);
  return JSON.parse(text);
}

function adminToken() {
  if (process.env.API_TOKEN) return process.env.API_TOKEN;
  if (process.env.API_BOOTSTRAP_TOKEN) return process.env.API_BOOTSTRAP_TOKEN;
  const file = path.join(root, '.cache', 'admin-token');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : null;
}

async function main() {
  const base = (process.env.API_URL || `http://127.0.0.1:${process.env.API_PORT || 3000}`).replace(
    /\/+$/,
    '',
  );
  const token = adminToken();
  if (!token) {
    console.error(
      '[sign-in-link] no token: set API_TOKEN (or run npm start, which writes .cache/admin-token)',
    );
    process.exit(1);
  }
  try {
    const link = await mintSignInLink({ base, token });
    console.log(link.url);
    console.error(`[sign-in-link] works once, until ${link.expires_at}`);
  } catch (e) {
    const refused = e.cause && e.cause.code === 'ECONNREFUSED';
    console.error(
      refused
        ? `[sign-in-link] nothing answers at ${base}: is npm start running? (or set API_URL)`
        : `[sign-in-link] ${e.message}`,
    );
    process.exit(1);
  }
}

if (require.main === module) void main();

module.exports = { mintSignInLink };
