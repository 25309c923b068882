'use strict';
/*
 * A local mail catcher for `npm start` (and the README tour test): an SMTP server on 127.0.0.1 that accepts every
 * mail, writes it to a folder (<time>-<id>.json with the text part, and .eml with the raw message) and announces
 * it. The api serves that folder to the console's Mail page when DEV_MAIL_DIR points at it.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

function decodeQuotedPrintable(s) {
  const bytes = s
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/gi, (_m, h) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

function decodeWords(s) {
  return s.replace(/=\?([^?]+)\?([BQ])\?([^?]*)\?=\s*/gi, (_m, _cs, enc, text) =>
    enc.toUpperCase() === 'B'
      ? Buffer.from(text, 'base64').toString('utf8')
      : decodeQuotedPrintable(text.replace(/_/g, ' ')),
  );
}

function splitMessage(raw) {
  const i = raw.search(/\r?\n\r?\n/);
  const head = (i < 0 ? raw : raw.slice(0, i)).replace(/\r?\n[ \t]+/g, ' ');
  const body = i < 0 ? '' : raw.slice(i).replace(/^\r?\n\r?\n/, '');
  const headers = {};
  for (const line of head.split(/\r?\n/)) {
    const m = /^([\w-]+):\s*(.*)$/.exec(line);
    if (m) headers[m[1].toLowerCase()] = m[2].trim();
  }
  return { headers, body };
}

function decodeBody(headers, body) {
  const enc = (headers['content-transfer-encoding'] || '').toLowerCase();
  if (enc === 'quoted-printable') return decodeQuotedPrintable(body);
  if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  return body;
}

/** The text/plain part of a (possibly multipart) message; HTML without tags when there is none. */
function textOf(raw) {
  const { headers, body } = splitMessage(raw);
  const type = headers['content-type'] || 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type);
  if (/^multipart\//i.test(type) && boundary) {
    const parts = body
      .split(`--${boundary[1]}`)
      .slice(1, -1)
      .map((p) => p.replace(/^\r?\n/, ''));
    const texts = parts.map((p) => textOf(p)).filter((t) => t !== null);
    const plain = parts.find((p) => /^text\/plain/i.test(splitMessage(p).headers['content-type'] || ''));
    return plain ? textOf(plain) : (texts[0] ?? null);
  }
  const decoded = decodeBody(headers, body);
  return /^text\/html/i.test(type) ? decoded.replace(/<[^>]+>/g, '').replace(/\n{3,}/g, '\n\n') : decoded;
}

/**
 * Starts the catcher. `port` 0 picks a free port. Resolves { port, dir, close() }; `onMail(mail)` is called for
 * every mail after it was written.
 */
async function startMailCatcher({ dir, port = 1025, host = '127.0.0.1', onMail = () => {} }) {
  const { SMTPServer } = require('smtp-server');
  fs.mkdirSync(dir, { recursive: true });
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    size: 10 * 1024 * 1024,
    onData(stream, session, callback) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        try {
          const raw = Buffer.concat(chunks).toString('utf8');
          const { headers } = splitMessage(raw);
          const receivedAt = new Date();
          const id = `${receivedAt.toISOString().replace(/[:.]/g, '-')}-${crypto.randomBytes(3).toString('hex')}`;
          const mail = {
            id,
            received_at: receivedAt.toISOString(),
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
            to: session.envelope.rcptTo.map((r) => r.address),
            subject: headers.subject ? decodeWords(headers.subject) : null,
            text: (textOf(raw) || '').replace(/\r\n/g, '\n') || null,
          };
          fs.writeFileSync(path.join(dir, `${id}.eml`), raw);
          // the .json last: the api lists .json files, so a listed mail is complete
          fs.writeFileSync(path.join(dir, `${id}.json`), JSON.stringify(mail, null, 2));
          onMail({ ...mail, file: path.join(dir, `${id}.eml`) });
          callback();
        } catch (e) {
          callback(e);
        }
      });
    },
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: server.server.address().port,
    dir,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

module.exports = { startMailCatcher, textOf };
