import { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, State } from './api';

const STATE_TEXT: Record<State, string> = {
  creating: 'Creating',
  refreshing: 'Refreshing',
  persisted: 'Persisted',
  error: 'Error',
  deletable: 'Being removed',
  off: 'Off',
};

/** Colour and text (never colour alone). */
export function StateBadge({ state }: { state: State }) {
  return (
    <span class={`badge state-${state}`} data-state={state}>
      <span aria-hidden="true" class="dot" />
      {STATE_TEXT[state]}
    </span>
  );
}

/** A stale model: a marker with text (never colour alone) and the reason in words beside it. */
export function StaleMarker({ reason }: { reason: string }) {
  return (
    <div class="stale-marker" data-stale="true">
      <span class="badge stale">
        <span aria-hidden="true" class="dot" />
        Stale
      </span>
      <span class="stale-reason">{reason}</span>
    </div>
  );
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.status ? `${e.message} (${e.code}, HTTP ${e.status})` : e.message;
  return e instanceof Error ? e.message : String(e);
}

export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  return (
    <div class="alert error" role="alert">
      <strong>{title ?? 'The request failed'}:</strong> {errorText(error)}
    </div>
  );
}

/** Loads data with a function; `reload` re-runs it; `silent` reloads (polling) keep the old data on screen. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const run = useCallback(async (silent = false) => {
    const mine = ++seq.current;
    if (!silent) setLoading(true);
    try {
      const d = await load();
      if (mine === seq.current) {
        setData(d);
        setError(null);
      }
    } catch (e) {
      if (mine === seq.current) setError(e);
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, deps);
  useEffect(() => {
    void run();
  }, [run]);
  return { data, error, loading, reload: run };
}

/** Re-runs `f` every `ms` while the page is visible (the live view of states). */
export function usePolling(f: () => void, ms: number) {
  const ref = useRef(f);
  ref.current = f;
  useEffect(() => {
    const t = setInterval(() => {
      if (document.visibilityState === 'visible') ref.current();
    }, ms);
    return () => clearInterval(t);
  }, [ms]);
}

export function Pager(props: {
  total: number;
  limit: number;
  offset: number;
  onOffset: (o: number) => void;
}) {
  const { total, limit, offset, onOffset } = props;
  const from = total === 0 ? 0 : offset + 1;
  const to = Math.min(total, offset + limit);
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - limit))}>
        ← Previous
      </button>
      <span aria-live="polite">
        {from}–{to} of {total}
      </span>
      <button type="button" disabled={offset + limit >= total} onClick={() => onOffset(offset + limit)}>
        Next →
      </button>
    </nav>
  );
}

/**
 * A modal confirmation (native <dialog>: the page behind is inert, focus moves to Cancel, Escape cancels). Tab
 * and Shift+Tab wrap inside the dialog (the browser would otherwise leave it for its own toolbar), and focus
 * returns to the control that opened the dialog however it closes: the dialog is unmounted, not just closed,
 * and removing an open dialog from the document does not restore focus by itself.
 */
export function Confirm(props: {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  // The browser dispatches a dialog's `close` event in a later task: after Escape it can reach this component's
  // handler once it is unmounted, even after the next dialog opened, and must not cancel that one.
  const live = useRef(true);
  const dismiss = () => {
    if (live.current) props.onCancel();
  };
  useEffect(() => {
    live.current = true;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => {
      live.current = false;
      if (d?.open) d.close();
      if (opener?.isConnected) opener.focus();
    };
  }, []);
  const trapTab = (e: KeyboardEvent) => {
    if (e.key !== 'Tab' || !ref.current) return;
    const stops = [...ref.current.querySelectorAll<HTMLElement>(FOCUSABLE)].filter(
      (el) => !el.hasAttribute('disabled') && el.getClientRects().length > 0,
    );
    if (stops.length === 0) return;
    const first = stops[0];
    const last = stops[stops.length - 1];
    if (e.shiftKey && (document.activeElement === first || !ref.current.contains(document.activeElement))) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };
  return (
    <dialog
      ref={ref}
      aria-labelledby="confirm-title"
      onCancel={dismiss}
      onClose={dismiss}
      onKeyDown={trapTab}
    >
      <h2 id="confirm-title">{props.title}</h2>
      <div class="dialog-body">{props.children}</div>
      <div class="actions">
        <button type="button" onClick={dismiss} autofocus>
          Cancel
        </button>
        <button type="button" class={props.danger ? 'danger' : 'primary'} onClick={props.onConfirm}>
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

const FOCUSABLE = 'a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])';

/** A short status line for finished actions, announced to screen readers. */
export function Notice({ text }: { text: string | null }) {
  return (
    <p class="notice" role="status" aria-live="polite">
      {text ?? ''}
    </p>
  );
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // no clipboard permission (plain http on another host): copy through a selected text area
      const area = document.createElement('textarea');
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand('copy');
      area.remove();
    }
    setDone(true);
    setTimeout(() => setDone(false), 1500);
  };
  return (
    <button type="button" class="small" onClick={() => void copy()} aria-label={label}>
      {done ? 'Copied' : 'Copy payload'}
    </button>
  );
}
