#!/usr/bin/env node
/*
 * Makes sure Debian's `prometheus` package (prometheus + promtool) is installed, for the test that runs every
 * PromQL expression of deploy/ against a real Prometheus (test/deploy/prometheus.int-spec.ts).
 *   node scripts/ensure-prometheus.js        installs it when missing (apt-get; root on these machines)
 * Exports ensurePrometheus() → { prometheus, promtool } absolute paths.
 */
'use strict';
const { which, aptInstall } = require('./lib');

function ensurePrometheus() {
  let prometheus = which('prometheus');
  let promtool = which('promtool');
  if (!prometheus || !promtool) {
    console.log('[ensure-prometheus] installing Debian package prometheus…');
    aptInstall('prometheus');
    prometheus = which('prometheus');
    promtool = which('promtool');
    if (!prometheus || !promtool) throw new Error('prometheus/promtool still not on PATH after install');
  }
  return { prometheus, promtool };
}

module.exports = { ensurePrometheus };

if (require.main === module) {
  try {
    const p = ensurePrometheus();
    console.log(`[ensure-prometheus] ${p.prometheus}, ${p.promtool}`);
  } catch (e) {
    console.error(`[ensure-prometheus] ${e.message}`);
    process.exit(1);
  }
}
