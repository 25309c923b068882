#!/usr/bin/env node
/*
 * Local infrastructure the project starts itself (no Docker engine on these machines):
 *  - a single-node KRaft Apache Kafka broker from jars resolved from Maven Central (deploy/kafka/pom.xml),
 *  - the application database on the local PostgreSQL, and test source databases on PostgreSQL and MariaDB.
 * When KAFKA_BROKERS / DATABASE_URL are set, those are used and nothing is started.
 *
 *   node scripts/infra.js up | down | status
 */
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const crypto = require('node:crypto');

const root = path.resolve(__dirname, '..');
const cacheDir = path.join(root, '.cache', 'kafka');
const libsDir = path.join(cacheDir, 'libs');
const dataDir = path.join(cacheDir, 'data');
const pidFile = path.join(cacheDir, 'kafka.pid');
const logFile = path.join(cacheDir, 'kafka.log');
const pomFile = path.join(root, 'deploy', 'kafka', 'pom.xml');

const KAFKA_PORT = 19092;
const CONTROLLER_PORT = 19093;
const LOCAL_BROKERS = `127.0.0.1:${KAFKA_PORT}`;
const LOCAL_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/model_persistence';
const ADMIN_PG_URL = process.env.PG_ADMIN_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const MYSQL_URL = process.env.MYSQL_TEST_URL || 'mysql://root@127.0.0.1:3306';
/** Source databases the integration tests and the demo use. */
const SOURCE_DATABASES = ['mp_source_test', 'mp_demo_source'];

const log = (...a) => console.log('[infra]', ...a);

function portOpen(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    s.setTimeout(1000, () => (s.destroy(), resolve(false)));
  });
}

function readPid() {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

function ensureJars() {
  const stamp = path.join(libsDir, '.pom-sha256');
  const hash = crypto.createHash('sha256').update(fs.readFileSync(pomFile)).digest('hex');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === hash) return;
  log('resolving Kafka jars from Maven Central (deploy/kafka/pom.xml)…');
  fs.rmSync(libsDir, { recursive: true, force: true });
  fs.mkdirSync(libsDir, { recursive: true });
  const r = spawnSync(
    'mvn',
    [
      '-q',
      '-B',
      '-f',
      pomFile,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${libsDir}`,
      '-DincludeScope=runtime',
    ],
    { stdio: 'inherit' },
  );
  if (r.status !== 0)
    throw new Error(
      'mvn dependency:copy-dependencies failed; is Maven installed and Maven Central reachable?',
    );
  fs.writeFileSync(stamp, hash);
}

function java(args, opts = {}) {
  return spawnSync('java', ['-cp', `${libsDir}/*`, ...args], { encoding: 'utf8', ...opts });
}

function writeServerProperties() {
  const props = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${CONTROLLER_PORT}`,
    listeners: `PLAINTEXT://127.0.0.1:${KAFKA_PORT},CONTROLLER://127.0.0.1:${CONTROLLER_PORT}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${KAFKA_PORT}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': dataDir,
    'num.partitions': '12',
    'auto.create.topics.enable': 'false',
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '12',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'group.initial.rebalance.delay.ms': '0',
    'log.retention.hours': '168',
    'message.max.bytes': '2097152',
  };
  const file = path.join(cacheDir, 'server.properties');
  fs.writeFileSync(
    file,
    Object.entries(props)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n') + '\n',
  );
  return file;
}

/**
 * TLS and SASL for this script's own Kafka client, from the same variables the services read (README
 * "Configuration"); the password is never printed.
 */
function kafkaSecurityFromEnv(env = process.env) {
  const out = {};
  if (/^(true|1|yes)$/i.test(env.KAFKA_SSL || '')) {
    out.ssl = { rejectUnauthorized: !/^(false|0|no)$/i.test(env.KAFKA_SSL_REJECT_UNAUTHORIZED || '') };
    if (env.KAFKA_SSL_CA_FILE) out.ssl.ca = [fs.readFileSync(env.KAFKA_SSL_CA_FILE, 'utf8')];
  }
  if (env.KAFKA_SASL_MECHANISM)
    out.sasl = {
      mechanism: env.KAFKA_SASL_MECHANISM.trim().toLowerCase(),
      username: env.KAFKA_SASL_USERNAME || '',
      password: env.KAFKA_SASL_PASSWORD || '',
    };
  return out;
}

async function kafkaReady(brokers, timeoutMs, security = kafkaSecurityFromEnv(), giveUp = null) {
  const { Kafka, logLevel } = require('kafkajs');
  const deadline = Date.now() + timeoutMs;
  let lastError;
  let gaveUp = false;
  if (giveUp) giveUp.catch(() => (gaveUp = true));
  while (Date.now() < deadline && !gaveUp) {
    const admin = new Kafka({
      clientId: 'infra',
      brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
      ...security,
    }).admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      await admin.disconnect();
      if (cluster.brokers.length > 0) return cluster;
    } catch (e) {
      lastError = e;
      await admin.disconnect().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `Kafka at ${brokers.join(',')} did not answer within ${timeoutMs} ms: ${lastError && lastError.message}`,
  );
}

async function kafkaUp() {
  if (process.env.KAFKA_BROKERS) {
    log(`KAFKA_BROKERS=${process.env.KAFKA_BROKERS}: using it, starting nothing`);
    await kafkaReady(process.env.KAFKA_BROKERS.split(','), 30_000);
    return { brokers: process.env.KAFKA_BROKERS, started: false };
  }
  const running = readPid();
  if (running && (await portOpen(KAFKA_PORT))) {
    await kafkaReady([LOCAL_BROKERS], 60_000);
    log(`Kafka already running (pid ${running}) on ${LOCAL_BROKERS}`);
    return { brokers: LOCAL_BROKERS, started: false };
  }
  if (!running && (await portOpen(KAFKA_PORT))) {
    // Something else listens there: use it if it speaks Kafka, otherwise say so.
    await kafkaReady([LOCAL_BROKERS], 15_000);
    log(`a Kafka broker not started by this script answers on ${LOCAL_BROKERS}; using it`);
    return { brokers: LOCAL_BROKERS, started: false };
  }
  ensureJars();
  fs.mkdirSync(cacheDir, { recursive: true });
  const config = writeServerProperties();
  if (!fs.existsSync(path.join(dataDir, 'meta.properties'))) {
    const clusterId = java(['kafka.tools.StorageTool', 'random-uuid']).stdout.trim();
    const r = java([
      '-Dlog4j.configuration=file:' + path.join(root, 'deploy/kafka/log4j.properties'),
      'kafka.tools.StorageTool',
      'format',
      '-t',
      clusterId,
      '-c',
      config,
    ]);
    if (r.status !== 0) throw new Error(`formatting Kafka storage failed:\n${r.stdout}\n${r.stderr}`);
    log(`formatted KRaft storage (cluster ${clusterId})`);
  }
  const out = fs.openSync(logFile, 'a');
  const child = spawn(
    'java',
    [
      '-Xms256m',
      '-Xmx768m',
      '-XX:+UseG1GC',
      '-Djava.awt.headless=true',
      '-Dlog4j.configuration=file:' + path.join(root, 'deploy/kafka/log4j.properties'),
      '-cp',
      `${libsDir}/*`,
      'kafka.Kafka',
      config,
    ],
    { detached: true, stdio: ['ignore', out, out] },
  );
  child.unref();
  fs.writeFileSync(pidFile, String(child.pid));
  log(`starting Kafka (pid ${child.pid}), log ${path.relative(root, logFile)}`);
  try {
    await kafkaReady([LOCAL_BROKERS], 120_000);
  } catch (e) {
    const tail = fs.existsSync(logFile)
      ? fs.readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n')
      : '';
    throw new Error(`${e.message}\n--- kafka.log ---\n${tail}`);
  }
  log(`Kafka ready on ${LOCAL_BROKERS}`);
  return { brokers: LOCAL_BROKERS, started: true };
}

async function kafkaDown() {
  const pid = readPid();
  if (!pid) return log('Kafka is not running (no live pid file)');
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 60 && readPid(); i++) await new Promise((r) => setTimeout(r, 500));
  if (readPid()) process.kill(pid, 'SIGKILL');
  fs.rmSync(pidFile, { force: true });
  log(`Kafka (pid ${pid}) stopped`);
}

/**
 * An extra single-node KRaft broker on other loopback ports with its own data dir (fault-injection tests stop
 * and restart it; the shared broker on 19092 is never touched). Same jars and settings as the shared one.
 * Resolves once it answers; `stop('SIGKILL' | 'SIGTERM')` ends it, `startBroker` again on the same dataDir
 * restarts it with its data.
 *  - messageMaxBytes: the broker's message.max.bytes; `null` leaves Kafka's default (1048588, as in
 *    docker-compose and most clusters), default 2 MiB like the shared local broker.
 *  - scram: { mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512', username, password }: clients must log in on
 *    `port` (a SASL_PLAINTEXT listener); the credentials are written at format time (kafka-storage format
 *    --add-scram), and the broker talks to itself on `interBrokerPort` (PLAINTEXT, loopback).
 *  - tls: { keystorePem }: `port` speaks TLS (SASL_SSL with scram, SSL without); keystorePem is one PEM file
 *    with the broker's PKCS#8 private key and its certificate chain (ssl.keystore.type=PEM).
 */
async function startBroker({
  port,
  controllerPort,
  dataDir: dir,
  heapMb = 384,
  timeoutMs = 120_000,
  messageMaxBytes = 2097152,
  scram = null,
  interBrokerPort = null,
  tls = null,
}) {
  ensureJars();
  fs.mkdirSync(dir, { recursive: true });
  if ((scram || tls) && !interBrokerPort)
    throw new Error('startBroker: scram or tls needs an interBrokerPort');
  // the clients' listener: SASL_SSL, SASL_PLAINTEXT or SSL
  const client = scram ? `SASL_${tls ? 'SSL' : 'PLAINTEXT'}` : 'SSL';
  const listeners =
    scram || tls
      ? {
          listeners: `${client}://127.0.0.1:${port},PLAINTEXT://127.0.0.1:${interBrokerPort},CONTROLLER://127.0.0.1:${controllerPort}`,
          'advertised.listeners': `${client}://127.0.0.1:${port},PLAINTEXT://127.0.0.1:${interBrokerPort}`,
          'listener.security.protocol.map': `${client}:${client},PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT`,
          ...(scram
            ? {
                'sasl.enabled.mechanisms': scram.mechanism,
                // the server side of SCRAM needs a login module entry; the credentials live in the metadata log
                [`listener.name.${client.toLowerCase()}.${scram.mechanism.toLowerCase()}.sasl.jaas.config`]:
                  'org.apache.kafka.common.security.scram.ScramLoginModule required;',
              }
            : {}),
          ...(tls ? { 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': tls.keystorePem } : {}),
        }
      : {
          listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
          'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
          'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
        };
  const props = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    ...listeners,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': path.join(dir, 'data'),
    'num.partitions': '3',
    'auto.create.topics.enable': 'false',
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '3',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'group.initial.rebalance.delay.ms': '0',
    ...(messageMaxBytes === null ? {} : { 'message.max.bytes': String(messageMaxBytes) }),
  };
  const config = path.join(dir, 'server.properties');
  fs.writeFileSync(
    config,
    Object.entries(props)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n') + '\n',
  );
  const log4j = '-Dlog4j.configuration=file:' + path.join(root, 'deploy/kafka/log4j.properties');
  if (!fs.existsSync(path.join(dir, 'data', 'meta.properties'))) {
    const clusterId = java(['kafka.tools.StorageTool', 'random-uuid']).stdout.trim();
    const addScram = scram
      ? ['--add-scram', `${scram.mechanism}=[name=${scram.username},password=${scram.password}]`]
      : [];
    const r = java([log4j, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', config, ...addScram]);
    if (r.status !== 0)
      throw new Error(
        `formatting Kafka storage failed:\n${r.stdout}\n${r.stderr}`
          .split(scram ? scram.password : '\0')
          .join('***'),
      );
  }
  const brokerLog = path.join(dir, 'kafka.log');
  const out = fs.openSync(brokerLog, 'a');
  const child = spawn(
    'java',
    [
      `-Xms${heapMb}m`,
      `-Xmx${heapMb}m`,
      '-XX:+UseG1GC',
      '-Djava.awt.headless=true',
      log4j,
      '-cp',
      `${libsDir}/*`,
      'kafka.Kafka',
      config,
    ],
    { stdio: ['ignore', out, out] },
  );
  fs.closeSync(out);
  const exited = new Promise((r) => child.once('exit', () => r()));
  const brokers = `127.0.0.1:${port}`;
  const stop = async (signal = 'SIGTERM', waitMs = 60_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), waitMs);
    await exited;
    clearTimeout(timer);
  };
  const security = {
    ...(scram
      ? {
          sasl: {
            mechanism: scram.mechanism.toLowerCase(),
            username: scram.username,
            password: scram.password,
          },
        }
      : {}),
    // readiness only: the broker answers TLS (the tests check the certificate with their own clients)
    ...(tls ? { ssl: { rejectUnauthorized: false } } : {}),
  };
  try {
    // a broker that exits at start-up (bad config) fails at once instead of after the whole timeout
    const exitedEarly = exited.then(() => {
      throw new Error(`Kafka on ${brokers} exited during start-up`);
    });
    exitedEarly.catch(() => undefined); // once ready, a later exit (stop) is not an error
    await Promise.race([kafkaReady([brokers], timeoutMs, security, exitedEarly), exitedEarly]);
  } catch (e) {
    await stop('SIGKILL');
    const tail = fs.readFileSync(brokerLog, 'utf8').split('\n').slice(-30).join('\n');
    throw new Error(`${e.message}\n--- ${brokerLog} ---\n${tail}`);
  }
  return { brokers, pid: child.pid, stop, logFile: brokerLog };
}

async function pgQuery(url, sql, params) {
  const { Client } = require('pg');
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

async function ensurePgDatabase(name, adminUrl = ADMIN_PG_URL) {
  const r = await pgQuery(adminUrl, 'select 1 from pg_database where datname = $1', [name]);
  if (r.rowCount === 0) {
    await pgQuery(adminUrl, `create database "${name.replace(/"/g, '""')}"`);
    log(`created PostgreSQL database ${name}`);
  }
}

async function ensureMysqlDatabase(name) {
  const mysql = require('mysql2/promise');
  const c = await mysql.createConnection(MYSQL_URL);
  try {
    await c.query(`create database if not exists \`${name}\``);
  } finally {
    await c.end();
  }
}

async function databasesUp() {
  const url = process.env.DATABASE_URL || LOCAL_DATABASE_URL;
  const parsed = new URL(url);
  const dbName = decodeURIComponent(parsed.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  await ensurePgDatabase(dbName, process.env.DATABASE_URL ? admin.toString() : ADMIN_PG_URL);
  for (const db of SOURCE_DATABASES) await ensurePgDatabase(db);
  try {
    for (const db of SOURCE_DATABASES) await ensureMysqlDatabase(db);
  } catch (e) {
    log(`MariaDB not reachable at ${MYSQL_URL} (${e.message}); MySQL source tests will fail`);
  }
  return url;
}

/** Returns the broker list and app database URL, and whether this call started the broker. */
async function up() {
  const { brokers, started } = await kafkaUp();
  const databaseUrl = await databasesUp();
  return { brokers, databaseUrl, kafkaStarted: started };
}

module.exports = {
  up,
  kafkaUp,
  kafkaDown,
  databasesUp,
  ensurePgDatabase,
  LOCAL_BROKERS,
  LOCAL_DATABASE_URL,
  pgQuery,
  startBroker,
  portOpen,
  kafkaSecurityFromEnv,
};

if (require.main === module) {
  const cmd = process.argv[2] || 'status';
  const run = {
    up: async () => {
      const r = await up();
      log(`KAFKA_BROKERS=${r.brokers} DATABASE_URL=${r.databaseUrl}`);
    },
    down: kafkaDown,
    status: async () => log(readPid() ? `Kafka running (pid ${readPid()})` : 'Kafka not running'),
  }[cmd];
  if (!run) {
    console.error('usage: node scripts/infra.js up|down|status');
    process.exit(2);
  }
  run().then(
    () => process.exit(0),
    (e) => {
      console.error('[infra]', e.message);
      process.exit(1);
    },
  );
}
