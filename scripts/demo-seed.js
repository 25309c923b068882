'use strict';
/*
 * Demo data for `npm start`: sample tables in the demo source databases (PostgreSQL, and MariaDB when reachable),
 * then sources and models registered, persisted and refreshed through the admin API — the same path an operator
 * takes. Idempotent: a second run reuses what is there.
 */
const PG_DEMO_URL = process.env.DEMO_PG_URL || 'postgres://postgres@127.0.0.1:5432/mp_demo_source';
const MYSQL_DEMO = { host: '127.0.0.1', port: 3306, user: 'root', database: 'mp_demo_source' };

async function seedPostgres(url = PG_DEMO_URL) {
  const { Client } = require('pg');
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(
      `create table if not exists customers (id int primary key, name text not null, country text not null)`,
    );
    await c.query(`create table if not exists orders (
      id bigint primary key, customer_id int not null, ordered_at timestamptz not null,
      status text not null, amount numeric(12,2) not null)`);
    const { rows } = await c.query('select count(*)::int as n from orders');
    if (rows[0].n === 0) {
      await c.query(`insert into customers
        select i, 'Customer ' || i, (array['DE','FR','US','CN','BR','IN'])[1 + i % 6] from generate_series(1, 5000) i`);
      await c.query(`insert into orders
        select i, 1 + (i * 7919) % 5000, now() - (i % 90) * interval '1 day' - (i % 1440) * interval '1 minute',
               (array['new','paid','shipped','returned'])[1 + i % 4], ((i * 31) % 50000) / 100.0
        from generate_series(1, 200000) i`);
    }
  } finally {
    await c.end();
  }
}

async function seedMysql() {
  const mysql = require('mysql2/promise');
  const c = await mysql.createConnection(MYSQL_DEMO);
  try {
    await c.query(`create table if not exists inventory (
      sku varchar(20) primary key, warehouse varchar(20) not null, quantity int not null)`);
    const [rows] = await c.query('select count(*) as n from inventory');
    if (Number(rows[0].n) === 0) {
      const values = [];
      for (let i = 1; i <= 2000; i++)
        values.push([`SKU-${i}`, ['north', 'south', 'east', 'west'][i % 4], (i * 13) % 500]);
      await c.query('insert into inventory (sku, warehouse, quantity) values ?', [values]);
    }
    return true;
  } catch (e) {
    console.warn(`[demo] MariaDB demo source skipped: ${e.message}`);
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

async function api(base, token, method, path, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  const json = text ? JSON.parse(text) : null;
  if (!r.ok) throw new Error(`${method} ${path} → ${r.status} ${text}`);
  return json;
}

const MODELS = {
  'Demo shop (PostgreSQL)': [
    {
      name: 'Revenue by day',
      sql: `select date_trunc('day', ordered_at) as day, count(*) as orders, sum(amount) as revenue
            from orders where status <> 'returned' group by 1`,
    },
    {
      name: 'Top customers',
      sql: `select c.id, c.name, c.country, sum(o.amount) as lifetime_value
            from customers c join orders o on o.customer_id = c.id group by c.id, c.name, c.country`,
    },
    { name: 'Orders by status', sql: `select status, count(*) as orders from orders group by status` },
    {
      // fails on purpose (no such table), so a newcomer sees an error in the console and the alert email
      name: 'Returns by day (broken on purpose)',
      sql: `select date_trunc('day', returned_at) as day, count(*) as returns from order_returns group by 1`,
    },
    {
      name: 'Recent orders',
      sql: `select * from orders order by ordered_at desc limit 100`,
      type: 'question',
    },
  ],
  'Demo warehouse (MariaDB)': [
    {
      name: 'Stock per warehouse',
      sql: 'select warehouse, sum(quantity) as quantity, count(*) as skus from inventory group by warehouse',
    },
  ],
};

/** `pgDbName`/`withMysql`: the README tour test seeds its own source database, without MariaDB. */
async function seedDemo({ base, token, pgUrl = PG_DEMO_URL, withMysql: mysqlWanted = true }) {
  await seedPostgres(pgUrl);
  const withMysql = mysqlWanted && (await seedMysql());
  const pg = new URL(pgUrl);
  const sources = [
    {
      name: 'Demo shop (PostgreSQL)',
      engine: 'postgres',
      host: pg.hostname,
      port: Number(pg.port || 5432),
      db_name: decodeURIComponent(pg.pathname.slice(1)),
      user: decodeURIComponent(pg.username || 'postgres'),
    },
  ];
  if (withMysql) {
    sources.push({
      name: 'Demo warehouse (MariaDB)',
      engine: 'mysql',
      host: '127.0.0.1',
      port: 3306,
      db_name: 'mp_demo_source',
      user: 'root',
    });
  }
  await api(base, token, 'POST', '/api/model-persistence/enable');
  // alert emails need a recipient; the local mail catcher of `npm start` receives them
  const settings = await api(base, token, 'GET', '/api/settings');
  if (!settings['admin-email'])
    await api(base, token, 'PUT', '/api/settings/admin-email', { value: 'admin@example.com' });
  // every 5 minutes, so the demo shows scheduled refreshes
  await api(base, token, 'POST', '/api/model-persistence/set-refresh-schedule', { cron: '0 0/5 * * * ? *' });
  const existing = await api(base, token, 'GET', '/api/databases');
  const existingList = existing.data;
  let models = 0;
  for (const s of sources) {
    const db =
      existingList.find((d) => d.name === s.name) || (await api(base, token, 'POST', '/api/databases', s));
    const cards = await api(base, token, 'GET', '/api/cards');
    const cardList = cards.data.filter((c) => c.database_id === db.id);
    for (const m of MODELS[s.name]) {
      if (!cardList.find((c) => c.name === m.name)) {
        await api(base, token, 'POST', '/api/cards', {
          name: m.name,
          database_id: db.id,
          sql: m.sql,
          type: m.type || 'model',
        });
      }
      if ((m.type || 'model') === 'model') models++;
    }
    await api(base, token, 'POST', `/api/model-persistence/database/${db.id}/persist`);
    // persisting a model requests its refresh at once, so the caches exist before the first cron fire
    for (const c of (await api(base, token, 'GET', '/api/cards')).data.filter(
      (c) => c.database_id === db.id,
    )) {
      if (c.type === 'model' && !c.archived)
        await api(base, token, 'POST', `/api/model-persistence/card/${c.id}/persist`);
    }
  }
  return `${sources.length} source database(s), ${models} persisted model(s); refreshes every 5 minutes`;
}

module.exports = { seedDemo };
