/**
 * The sign-in / create-account screen: the only thing shown until the server knows who this is. The server
 * judges every rule (username, password policy, rate limits); its message is shown next to the form.
 */
import { ApiError, signIn, signUp } from './api.js';
import { byId } from './dom.js';
import type { Me } from './protocol.js';

type Tab = 'signin' | 'signup';

/** Shows the screen and resolves with the user once they signed in or up. */
export function showAuthScreen(): Promise<Me> {
  const screen = byId('auth-screen');
  byId('app').hidden = true;
  screen.hidden = false;
  document.title = 'Sign in · Confab';

  const forms: Record<Tab, HTMLFormElement> = {
    signin: byId<HTMLFormElement>('signin-form'),
    signup: byId<HTMLFormElement>('signup-form'),
  };
  const tabs: Record<Tab, HTMLButtonElement> = {
    signin: byId<HTMLButtonElement>('signin-tab'),
    signup: byId<HTMLButtonElement>('signup-tab'),
  };
  const select = (tab: Tab) => {
    for (const t of ['signin', 'signup'] as const) {
      forms[t].hidden = t !== tab;
      tabs[t].setAttribute('aria-selected', String(t === tab));
    }
    document.title = `${tab === 'signin' ? 'Sign in' : 'Create account'} · Confab`;
    forms[tab].querySelector<HTMLInputElement>('input')?.focus();
  };
  tabs.signin.addEventListener('click', () => select('signin'));
  tabs.signup.addEventListener('click', () => select('signup'));
  byId<HTMLInputElement>('signin-username').focus();

  return new Promise((resolve) => {
    const done = (me: Me) => {
      screen.hidden = true;
      resolve(me);
    };
    wire(forms.signin, byId('signin-error'), async () =>
      signIn(byId<HTMLInputElement>('signin-username').value.trim(), byId<HTMLInputElement>('signin-password').value),
    ).then(done);
    wire(forms.signup, byId('signup-error'), async () =>
      signUp(
        byId<HTMLInputElement>('signup-username').value.trim(),
        byId<HTMLInputElement>('signup-password').value,
        byId<HTMLInputElement>('signup-display-name').value.trim(),
      ),
    ).then(done);
  });
}

/** Submits `form` with `action` until it succeeds, showing each failure's message in `error`. */
function wire(form: HTMLFormElement, error: HTMLElement, action: () => Promise<Me>): Promise<Me> {
  const submit = form.querySelector<HTMLButtonElement>('button[type="submit"]')!;
  for (const input of form.querySelectorAll('input')) input.addEventListener('input', () => (error.textContent = ''));
  return new Promise((resolve) => {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (submit.disabled) return;
      const missing = [...form.querySelectorAll<HTMLInputElement>('input[required]')].find((i) => i.value.trim() === '');
      if (missing !== undefined) {
        error.textContent = `Enter your ${form.querySelector(`label[for="${missing.id}"]`)?.firstChild?.textContent?.trim().toLowerCase() ?? 'details'}`;
        missing.focus();
        return;
      }
      submit.disabled = true;
      error.textContent = '';
      action().then(resolve, (err: unknown) => {
        submit.disabled = false;
        error.textContent = err instanceof ApiError ? err.message : 'Something went wrong. Try again.';
        form.querySelector<HTMLInputElement>('input[type="password"]')?.select();
      });
    });
  });
}
