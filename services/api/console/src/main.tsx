import { Component, ComponentChildren, render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  api,
  ApiError,
  clearToken,
  getToken,
  setToken,
  setUnauthorizedHandler,
  signInWithCode,
  signOut,
  takeSignInCode,
} from './api';
import { ErrorBox, errorText } from './components';
import { DatabasesPage } from './pages/databases';
import { DeadLettersPage } from './pages/dead-letters';
import { MailPage } from './pages/mail';
import { ModelDetailPage } from './pages/model-detail';
import { ModelsPage } from './pages/models';
import { SettingsPage } from './pages/settings';
import { TasksPage } from './pages/tasks';

/**
 * The first Tab stop of every page. Its href is not followed (the console routes by hash): activating it moves
 * focus to the main region, so the next Tab is the page's first control.
 */
function SkipLink({ target }: { target: { current: HTMLElement | null } }) {
  return (
    <a
      class="skip"
      href="#main"
      onClick={(e) => {
        e.preventDefault();
        target.current?.focus();
      }}
    >
      Skip to content
    </a>
  );
}

/**
 * Focus on the page's heading (made focusable by script only). A page still loading has none yet: focus waits on
 * the main region and moves to the heading when it appears, unless the user has moved on meanwhile.
 */
function focusPageStart(main: HTMLElement | null) {
  if (!main) return;
  const heading = () => main.querySelector('h1');
  const focusHeading = (h: HTMLElement) => {
    h.tabIndex = -1;
    h.focus();
  };
  const now = heading();
  if (now) return focusHeading(now);
  main.focus();
  const watch = new MutationObserver(() => {
    const h = heading();
    if (!h) return;
    watch.disconnect();
    if (document.activeElement === main) focusHeading(h);
  });
  watch.observe(main, { childList: true, subtree: true });
  setTimeout(() => watch.disconnect(), 10_000);
}

function useRoute(): string {
  const [route, setRoute] = useState(location.hash.replace(/^#/, '') || '/models');
  useEffect(() => {
    const f = () => setRoute(location.hash.replace(/^#/, '') || '/models');
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return route;
}

function SignIn({
  onSignedIn,
  reason,
  linkError,
}: {
  onSignedIn: () => void;
  reason: string | null;
  linkError: unknown;
}) {
  const [token, setValue] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const main = useRef<HTMLElement>(null);
  useEffect(() => {
    document.title = 'Sign in — Model persistence admin';
  }, []);
  return (
    <>
      <SkipLink target={main} />
      <main id="main" class="signin" ref={main} tabIndex={-1}>
        <h1>Model persistence — admin console</h1>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setBusy(true);
            setError(null);
            setToken(token.trim());
            // any authenticated call checks the token; the settings are small
            api('GET', '/api/settings').then(
              () => onSignedIn(),
              (err) => {
                clearToken();
                setError(
                  err instanceof ApiError && err.status === 401
                    ? new Error(
                        'This token is not valid. Use the link or token that npm start printed, or an API token.',
                      )
                    : err,
                );
                setBusy(false);
              },
            );
          }}
        >
          {reason && (
            <p class="alert warn" role="status">
              {reason}
            </p>
          )}
          <ErrorBox error={linkError} title="This sign-in link cannot be used" />
          <label for="token">API token</label>
          <input
            id="token"
            type="password"
            autocomplete="current-password"
            required
            value={token}
            onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          />
          <p class="muted">
            The token stays in this browser tab only (session storage) and is sent to this api only. Or open a
            one-time sign-in link: <code>npm run sign-in-link</code> prints a new one.
          </p>
          <ErrorBox error={error} title="Sign-in failed" />
          <button type="submit" class="primary" disabled={busy}>
            Sign in
          </button>
        </form>
      </main>
    </>
  );
}

const NAV = [
  ['/models', 'Models'],
  ['/databases', 'Databases'],
  ['/settings', 'Settings'],
  ['/tasks', 'Task history'],
  ['/dead-letters', 'Dead letters'],
] as const;

function Shell({ onSignOut }: { onSignOut: () => void }) {
  const route = useRoute();
  const [devMail, setDevMail] = useState(false);
  const main = useRef<HTMLElement>(null);
  useEffect(() => {
    // development mode shows caught mails; elsewhere the endpoint answers 404 and the link stays hidden
    api('GET', '/api/dev/mail?limit=1').then(
      () => setDevMail(true),
      () => setDevMail(false),
    );
  }, []);
  const firstRoute = useRef(true);
  useEffect(() => {
    // A page load (or sign-in) leaves focus at the top of the document, so the first Tab stop is the skip
    // link, as on any web page. Navigating inside the console moves focus to the new page's heading (or the
    // main region while the page loads): keyboard and screen-reader users start there, not on the old link.
    if (firstRoute.current) {
      firstRoute.current = false;
      return;
    }
    focusPageStart(main.current);
  }, [route]);
  const detail = /^\/models\/(\d+)$/.exec(route);
  const byCard = /^\/cards\/(\d+)$/.exec(route);
  let page;
  if (detail) page = <ModelDetailPage id={Number(detail[1])} />;
  else if (byCard) page = <CardRedirect cardId={Number(byCard[1])} />;
  else if (route === '/settings') page = <SettingsPage />;
  else if (route === '/databases') page = <DatabasesPage />;
  else if (route === '/tasks') page = <TasksPage />;
  else if (route === '/dead-letters') page = <DeadLettersPage />;
  else if (route === '/mail' && devMail) page = <MailPage />;
  else page = <ModelsPage />;
  const nav = devMail ? [...NAV, ['/mail', 'Mail'] as const] : NAV;
  const current = detail || byCard ? '/models' : route;
  const pageName = detail ? 'Model' : (nav.find(([href]) => href === current)?.[1] ?? 'Models');
  useEffect(() => {
    // each view has its own title (browser history, tabs, and what a screen reader says after navigation)
    document.title = `${pageName} — Model persistence admin`;
  }, [pageName]);
  return (
    <>
      <SkipLink target={main} />
      <header class="top">
        <span class="brand">Model persistence</span>
        <nav aria-label="Main">
          <ul>
            {nav.map(([href, label]) => (
              <li>
                <a href={`#${href}`} aria-current={current === href ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" class="secondary signout" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <ErrorBoundaryPage key={route}>{page}</ErrorBoundaryPage>
      </main>
    </>
  );
}

/** A rendering bug shows its message, never a blank screen. */
class ErrorBoundaryPage extends Component<{ children: ComponentChildren }, { error: unknown }> {
  override state = { error: null as unknown };
  override componentDidCatch(error: unknown) {
    this.setState({ error });
  }
  override render() {
    return this.state.error ? (
      <div class="alert error" role="alert">
        <strong>This page failed:</strong> {errorText(this.state.error)}
      </div>
    ) : (
      this.props.children
    );
  }
}

/** #/cards/<card id> (the alert emails' model links): the persisted model of that card. */
function CardRedirect({ cardId }: { cardId: number }) {
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api<{ id: number }>('GET', `/api/model-persistence/card/${cardId}`).then(
      (m) => location.replace(`#/models/${m.id}`),
      setError,
    );
  }, [cardId]);
  return error ? (
    <ErrorBox error={error} title={`Could not open the model of card ${cardId}`} />
  ) : (
    <p>Opening…</p>
  );
}

type Auth =
  | { state: 'signed-in' }
  | { state: 'signed-out'; reason: string | null; linkError: unknown }
  | { state: 'exchanging'; code: string };

function initialAuth(): Auth {
  const code = takeSignInCode();
  if (code) return { state: 'exchanging', code };
  return getToken() !== null
    ? { state: 'signed-in' }
    : { state: 'signed-out', reason: null, linkError: null };
}

function App() {
  const [auth, setAuth] = useState<Auth>(initialAuth);
  useEffect(() => {
    // a sign-in link opened in a tab where the console is already loaded only changes the hash
    const onHash = () => {
      const code = takeSignInCode();
      if (code) setAuth({ state: 'exchanging', code });
    };
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    if (auth.state !== 'exchanging') return;
    signInWithCode(auth.code).then(
      () => setAuth({ state: 'signed-in' }),
      // used, expired or unknown: the server's reason, and the token form
      (e: unknown) => setAuth({ state: 'signed-out', reason: null, linkError: e }),
    );
  }, [auth]);
  useEffect(() => {
    setUnauthorizedHandler(() => {
      clearToken();
      setAuth({
        state: 'signed-out',
        reason: 'Your token is no longer accepted; sign in again.',
        linkError: null,
      });
    });
  }, []);
  if (auth.state === 'exchanging')
    return (
      <main id="main" class="signin">
        <h1>Model persistence — admin console</h1>
        <p role="status">Signing in…</p>
      </main>
    );
  if (auth.state === 'signed-out')
    return (
      <SignIn
        reason={auth.reason}
        linkError={auth.linkError}
        onSignedIn={() => (setAuth({ state: 'signed-in' }), (location.hash = '#/models'))}
      />
    );
  return (
    <Shell
      onSignOut={() => {
        void signOut().then(() => {
          setAuth({ state: 'signed-out', reason: 'You are signed out.', linkError: null });
          history.replaceState(null, '', location.pathname);
        });
      }}
    />
  );
}

const root = document.getElementById('app')!;
root.textContent = ''; // the "Loading…" placeholder of index.html
render(<App />, root);
