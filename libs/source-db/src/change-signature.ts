import { createHash } from 'node:crypto';
import { tokenizeSql } from './sql-lexer';
import type { SourceEngine } from './types';

/*
 * Change detection (issue 13): which tables a model reads, learnt from the server's own plan, and a cheap per-table
 * change signature. Pure helpers here (plan walking, function names, hashing); the queries live in the drivers.
 * Anything the helpers cannot be sure of becomes "cannot tell", which the refresher treats as "changed".
 */

/** What readInputSignature asks for. `refreshKeySql`: the model's own refresh key (its result is the signature). */
export interface InputSignatureRequest {
  /** Model SQL (references resolved), already checked by assertSafeModelSql. */
  sql: string;
  statementTimeoutMs: number;
  /** A model's own refresh_key SQL, already checked by assertSafeModelSql: its result, hashed, is the signature. */
  refreshKeySql?: string | null;
  /**
   * The refresher's own cache schema in this database: the catalog churn of its tables (every build creates, swaps
   * and drops some) does not make the driver learn the models' relations again (PostgreSQL; see the driver).
   */
  ownSchema?: string;
}

/**
 * A change signature of a model's inputs: equal signatures read at two times mean no input changed in between
 * (within the engine's documented window, see docs/ARCHITECTURE.md "Change detection"). `signature: null`:
 * cannot tell (the caller refreshes), with the reason.
 */
export type InputSignature =
  | { signature: string; relations: string[]; via: 'stats' | 'refresh-key' }
  | { signature: null; reason: string };

export const cannotTell = (reason: string): InputSignature => ({ signature: null, reason });

export const hashSignature = (parts: unknown): string =>
  createHash('sha256').update(JSON.stringify(parts)).digest('hex');

/** A relation a plan reads. `schema` may be null on MySQL/MariaDB (their plans name tables without a schema). */
export interface PlannedRelation {
  schema: string | null;
  name: string;
}

export interface PlanReading {
  relations: PlannedRelation[];
  /** Text of expressions in the plan (outputs, filters, conditions): where function calls show. */
  expressions: string[];
  /** Set when the plan holds something whose data we cannot sign (foreign scan, function scan, …). */
  uncertain?: string;
}

/** PostgreSQL node types that read something other than a plain relation we can sign. */
const PG_UNCERTAIN_NODES = new Set([
  'Foreign Scan',
  'Function Scan',
  'Table Function Scan',
  'Custom Scan',
  'Sample Scan',
  'Named Tuplestore Scan',
  'WorkTable Scan',
]);

const PG_EXPRESSION_KEYS = [
  'Output',
  'Filter',
  'Index Cond',
  'Recheck Cond',
  'Join Filter',
  'Hash Cond',
  'Merge Cond',
  'One-Time Filter',
  'Sort Key',
  'Group Key',
  'TID Cond',
  'Function Call',
  'Cache Key',
  'Presorted Key',
  'Run Condition',
];

/** Walks `EXPLAIN (FORMAT JSON, VERBOSE)` output: relations (views are already expanded there), expressions. */
export function readPostgresPlan(explain: unknown): PlanReading {
  const reading: PlanReading = { relations: [], expressions: [] };
  const visit = (node: Record<string, unknown>) => {
    const type = typeof node['Node Type'] === 'string' ? node['Node Type'] : '';
    if (PG_UNCERTAIN_NODES.has(type)) reading.uncertain ??= `the plan has a ${type}`;
    if (typeof node['Relation Name'] === 'string') {
      reading.relations.push({
        schema: typeof node.Schema === 'string' ? node.Schema : null,
        name: node['Relation Name'],
      });
    }
    // run-time partition pruning: partitions left out of the plan may still be read
    if (typeof node['Subplans Removed'] === 'number' && node['Subplans Removed'] > 0)
      reading.uncertain ??= 'the plan prunes partitions at run time';
    for (const key of PG_EXPRESSION_KEYS) {
      const v = node[key];
      if (typeof v === 'string') reading.expressions.push(v);
      else if (Array.isArray(v)) for (const e of v) if (typeof e === 'string') reading.expressions.push(e);
    }
    const plans = node.Plans;
    if (Array.isArray(plans)) for (const p of plans) if (p && typeof p === 'object') visit(p as never);
  };
  const top: unknown = Array.isArray(explain) ? (explain as unknown[])[0] : explain;
  const plan = (top as { Plan?: unknown } | undefined)?.Plan;
  if (!plan || typeof plan !== 'object') return { ...reading, uncertain: 'the plan could not be read' };
  visit(plan as Record<string, unknown>);
  return reading;
}

/**
 * Walks MariaDB/MySQL `EXPLAIN FORMAT=JSON` output. Its plans name tables by alias, without a schema, and a plan
 * the optimizer settled while planning ("Impossible WHERE noticed after reading const tables") lists no tables
 * at all although the result depends on their data: the driver takes the tables from the SQL and view texts
 * instead, and uses the plan's names only as a cross-check.
 */
export function readMysqlPlan(explain: unknown): PlanReading {
  const reading: PlanReading = { relations: [], expressions: [] };
  const visit = (value: unknown) => {
    if (Array.isArray(value)) {
      for (const v of value) visit(v);
      return;
    }
    if (!value || typeof value !== 'object') return;
    const node = value as Record<string, unknown>;
    const name = node.table_name;
    // <derived2>, <subquery3>, <union1,2>: the optimizer's own intermediate results
    if (typeof name === 'string' && !name.startsWith('<')) reading.relations.push({ schema: null, name });
    for (const key of ['attached_condition', 'index_condition', 'having_condition']) {
      const v = node[key];
      if (typeof v === 'string') reading.expressions.push(v);
    }
    for (const v of Object.values(node)) if (v && typeof v === 'object') visit(v);
  };
  if (!explain || typeof explain !== 'object') return { ...reading, uncertain: 'the plan could not be read' };
  visit(explain);
  return reading;
}

/**
 * SQL value functions that are keywords, not calls (no parentheses): what they return changes without any table
 * changing, so a model using one is "cannot tell".
 */
const PG_VALUE_KEYWORDS = new Set([
  'CURRENT_DATE',
  'CURRENT_TIME',
  'CURRENT_TIMESTAMP',
  'LOCALTIME',
  'LOCALTIMESTAMP',
  'CURRENT_USER',
  'CURRENT_ROLE',
  'SESSION_USER',
  'USER',
  'CURRENT_CATALOG',
  'CURRENT_SCHEMA',
]);

/** MariaDB/MySQL built-ins whose result changes without any table changing (or that read server state). */
const MYSQL_NONDETERMINISTIC = new Set([
  ...PG_VALUE_KEYWORDS,
  'NOW',
  'CURDATE',
  'CURTIME',
  'SYSDATE',
  'UTC_DATE',
  'UTC_TIME',
  'UTC_TIMESTAMP',
  'UNIX_TIMESTAMP',
  'RAND',
  'RANDOM_BYTES',
  'UUID',
  'UUID_SHORT',
  'SYS_GUID',
  'CONNECTION_ID',
  'SYSTEM_USER',
  'DATABASE',
  'SCHEMA',
  'LAST_INSERT_ID',
  'ROW_COUNT',
  'FOUND_ROWS',
  'SLEEP',
  'BENCHMARK',
  'GET_LOCK',
  'IS_FREE_LOCK',
  'IS_USED_LOCK',
  'RELEASE_LOCK',
  'MASTER_POS_WAIT',
  'MASTER_GTID_WAIT',
  'NEXTVAL',
  'LASTVAL',
  'SETVAL',
  'NEXT',
  'PREVIOUS',
  'LOAD_FILE',
  'VALUES',
]);

export interface CalledNames {
  /** Lower-case names written as calls (`name(`) in the SQL or the plan's expressions. */
  calls: string[];
  /** Why the SQL is "cannot tell" on its face (a value keyword such as CURRENT_TIMESTAMP, a variable). */
  uncertain?: string;
  /** Words and quoted identifiers of the SQL as written (MariaDB: candidate table names). */
  words: string[];
  /** Words and quoted identifiers followed by `.` (MariaDB: candidate schemas of the tables). */
  qualifiers: string[];
}

/** Names called as functions in the SQL and in the plan's expression texts, and value keywords. */
export function calledNames(sql: string, engine: SourceEngine, expressions: string[] = []): CalledNames {
  const calls = new Set<string>();
  const words = new Set<string>();
  const qualifiers = new Set<string>();
  let uncertain: string | undefined;
  let tokens;
  try {
    tokens = tokenizeSql(sql, engine);
  } catch {
    return { calls: [], words: [], qualifiers: [], uncertain: 'the SQL could not be read' };
  }
  tokens.forEach((t, i) => {
    if (t.kind === 'word' || t.kind === 'quoted-identifier') {
      const bare = t.kind === 'word' ? t.text : t.text.slice(1, -1);
      words.add(bare);
      const after = tokens[i + 1];
      if (after?.kind === 'punct' && after.text === '.') qualifiers.add(bare);
    }
    if (t.kind !== 'word') {
      // MariaDB/MySQL user and system variables (@x, @@x): their value is no table's
      if (engine === 'mysql' && t.kind !== 'string' && t.kind !== 'quoted-identifier' && t.text.includes('@'))
        uncertain ??= 'the SQL reads a variable';
      return;
    }
    const next = tokens[i + 1];
    const prev = tokens[i - 1];
    // `x.now(` is a call to schema x's now; `t.col` is no call
    const isCall = next?.kind === 'punct' && next.text === '(';
    if (isCall) calls.add(t.text.toLowerCase());
    const qualified = prev?.kind === 'punct' && prev.text === '.';
    if (!qualified && !isCall && PG_VALUE_KEYWORDS.has(t.upper))
      uncertain ??= `the SQL uses ${t.upper}, which changes without any table changing`;
  });
  for (const e of expressions) {
    for (const m of e.matchAll(/([A-Za-z_][A-Za-z0-9_$]*)\s*\(/g)) calls.add(m[1].toLowerCase());
    for (const m of e.matchAll(/\b([A-Za-z_]+)\b/g)) {
      const u = m[1].toUpperCase();
      if (PG_VALUE_KEYWORDS.has(u) && u !== 'USER') uncertain ??= `the plan uses ${u}`;
    }
  }
  if (engine === 'mysql') {
    for (const c of calls)
      if (MYSQL_NONDETERMINISTIC.has(c.toUpperCase()))
        uncertain ??= `the SQL uses ${c.toUpperCase()}(), which changes without any table changing`;
  }
  return {
    calls: [...calls].sort(),
    words: [...words].sort(),
    qualifiers: [...qualifiers].sort(),
    ...(uncertain ? { uncertain } : {}),
  };
}
