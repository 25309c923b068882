/* The console's only way to the server: the public REST API with the bearer token from session storage. */

const TOKEN_KEY = 'mp-admin-token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * The code of a one-time sign-in link (`/admin/#signin=…`, printed by `npm start` and `npm run sign-in-link`), or
 * null. It leaves the address bar and the history entry at once; being a fragment, it never reached the server.
 */
export function takeSignInCode(): string | null {
  const m = /^#signin=([^&]+)/.exec(location.hash);
  if (!m) return null;
  history.replaceState(null, '', `${location.pathname}#/models`);
  return decodeURIComponent(m[1]);
}

/** Exchanges a sign-in code (once) for a console session token, kept in this tab's session storage. */
export async function signInWithCode(code: string): Promise<void> {
  // the tab changes identity: a session it held ends first
  await signOut();
  const session = await api<{ token: string }>('POST', '/api/sign-in', { code });
  setToken(session.token);
}

/** Ends a console session on the server (a pasted API token is only forgotten by this tab), then forgets it. */
export async function signOut(): Promise<void> {
  if (getToken()) await api('POST', '/api/sign-out').catch(() => undefined);
  clearToken();
}

const NO_UNAUTHORIZED_HANDLER = new Set(['/api/settings', '/api/sign-in', '/api/sign-out']);
let onUnauthorized: () => void = () => undefined;
export function setUnauthorizedHandler(f: () => void): void {
  onUnauthorized = f;
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const token = getToken();
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'NETWORK', `The api cannot be reached (${(e as Error).message}). Is it running?`);
  }
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // a proxy's HTML error page, for example
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    const e = new ApiError(
      res.status,
      err?.code ?? `HTTP_${res.status}`,
      err?.message ??
        `${method} ${path} failed with HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
    );
    // the sign-in form's own checks answer 401 to the form, not to the signed-in shell
    if (res.status === 401 && !NO_UNAUTHORIZED_HANDLER.has(path)) onUnauthorized();
    throw e;
  }
  return json as T;
}

export const qs = (params: Record<string, string | number | undefined | null>): string => {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '');
  return entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)])).toString()}` : '';
};

/* Response shapes (snake_case, as the API returns them) */

export type State = 'creating' | 'refreshing' | 'persisted' | 'error' | 'deletable' | 'off';
export const STATES: State[] = ['creating', 'refreshing', 'persisted', 'error', 'deletable', 'off'];

export interface PersistedInfo {
  id: number;
  database_id: number;
  database_name: string;
  card_id: number | null;
  card_name: string | null;
  schema_name: string;
  table_name: string;
  state: State;
  active: boolean;
  error: string | null;
  refresh_begin: string | null;
  refresh_end: string | null;
  state_change_at: string | null;
  last_success_at: string | null;
  refresh_cron: string | null;
  next_fire_time: string | null;
  created_at: string;
  /** Seconds since the data was last known current: its last build, or the last check that found it unchanged. */
  staleness_seconds: number | null;
  /** The model's freshness target (ISO-8601 duration), null: none. */
  max_staleness: string | null;
  max_staleness_seconds: number | null;
  /** Staleness beyond which the model is stale; null: no limit. */
  staleness_limit_seconds: number | null;
  /** What that limit is (absent from an older api: the console then says nothing about the reason). */
  staleness_limit_source?: 'max_staleness' | 'schedule_interval' | null;
  stale: boolean;
  /** End of the last real build (change detection: the data has not changed since). */
  last_built_at: string | null;
  since_last_build_seconds: number | null;
}

export interface Page<T> {
  data: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface LastBuild {
  persisted_info_id: number;
  outcome: 'success' | 'error';
  rows: number | null;
  duration_ms: number;
  ended_at: string;
  error: string | null;
}

export interface Database {
  id: number;
  name: string;
  engine: 'postgres' | 'mysql';
  host: string;
  port: number;
  db_name: string;
  user: string;
  persist_models_enabled: boolean;
}

export interface Card {
  id: number;
  name: string;
  database_id: number;
  sql: string;
  type: 'model' | 'question';
  archived: boolean;
  refresh_cron: string | null;
  max_staleness: string | null;
  max_staleness_seconds: number | null;
  refresh_key: string | null;
}

export interface Task {
  id: number;
  task: string;
  db_id: number | null;
  run_id: string;
  started_at: string;
  ended_at: string | null;
  duration: number | null;
  status: 'started' | 'success' | 'failed' | 'unknown';
  task_details: Record<string, unknown> | null;
}

export interface CronPreview {
  cron: string;
  time_zone: string;
  description: string;
  next_fire_times: string[];
  next_fire_times_local: string[];
}

export interface CanPersistReport {
  ok: boolean;
  schema_name: string;
  steps: { step: string; label: string; status: 'passed' | 'failed' | 'not-run'; message: string | null }[];
}

export interface DeadLetter {
  occurred_at: string;
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  consumer_group: string;
  reason: string;
  error_code: string;
  payload: string | null;
}

export interface CaughtMail {
  id: string;
  received_at: string;
  from: string | null;
  to: string[];
  subject: string | null;
  text: string | null;
}

export type Settings = Record<string, string>;
