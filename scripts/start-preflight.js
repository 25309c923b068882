'use strict';
/*
 * Checks `npm start` makes before it installs, builds or starts anything, so it never fails half-way:
 *  - one `npm start` at a time per clone (a lock file with the pid; a stale lock of a dead process is taken over);
 *  - every port it will listen on is free, else it names the port, who wanted it and the variable to set.
 */
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

function portFree(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** Takes the lock or explains who holds it. Returns a release function. */
function takeLock(root) {
  const file = path.join(root, '.cache', 'start.lock');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify({ pid: process.pid, since: new Date().toISOString() }), {
        flag: 'wx',
      });
      const release = () => {
        try {
          if (JSON.parse(fs.readFileSync(file, 'utf8')).pid === process.pid) fs.rmSync(file);
        } catch {
          // already gone
        }
      };
      process.on('exit', release);
      return { ok: true, release };
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let holder = null;
      try {
        holder = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch {
        // unreadable: treat as stale
      }
      if (holder && alive(holder.pid)) return { ok: false, holder };
      fs.rmSync(file, { force: true }); // left by a process that is gone
    }
  }
  return { ok: false, holder: null };
}

/**
 * ports: [{ port, what, variable }]. Exits the process (code 1) with an explanation when another `npm start`
 * runs or a port is taken; otherwise returns { release }.
 */
async function preflight({ root, ports, consoleUrl }) {
  const lock = takeLock(root);
  if (!lock.ok) {
    const who = lock.holder ? ` (pid ${lock.holder.pid}, since ${lock.holder.since})` : '';
    console.error(
      `[start] npm start is already running in this folder${who}.\n` +
        `        Its console: ${consoleUrl}\n` +
        `        Stop it with Ctrl-C in its terminal first, or use that one.`,
    );
    process.exit(1);
  }
  const taken = [];
  for (const p of ports) if (!(await portFree(p.port))) taken.push(p);
  if (taken.length) {
    for (const p of taken)
      console.error(
        `[start] port ${p.port} (${p.what}) is already in use: set ${p.variable} to a free port.`,
      );
    console.error(
      `        For example: ${taken.map((p) => `${p.variable.split(' ')[0]}=${p.port + 100}`).join(' ')} npm start`,
    );
    lock.release();
    process.exit(1);
  }
  return { release: lock.release };
}

module.exports = { preflight, portFree };
