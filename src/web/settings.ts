/** Settings: change the password, and personal API tokens (list, create with the secret shown once, revoke). */
import { ApiError, changePassword, createToken, fetchTokens, revokeToken, updateSettings } from './api.js';
import { setSoundEnabled, soundEnabled } from './attention.js';
import { byId, el, wireDialog } from './dom.js';
import type { ApiToken, Me } from './protocol.js';

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

export class SettingsDialog {
  private readonly dialog = byId<HTMLDialogElement>('settings-dialog');
  private readonly passwordForm = byId<HTMLFormElement>('password-form');
  private readonly current = byId<HTMLInputElement>('current-password');
  private readonly next = byId<HTMLInputElement>('new-password');
  private readonly passwordError = byId('password-error');
  private readonly passwordOk = byId('password-ok');
  private readonly tokenForm = byId<HTMLFormElement>('token-form');
  private readonly tokenName = byId<HTMLInputElement>('token-name');
  private readonly tokenError = byId('token-error');
  private readonly tokenList = byId<HTMLUListElement>('token-list');
  private readonly secretBox = byId('token-secret-box');
  private readonly secret = byId<HTMLInputElement>('token-secret');
  private readonly copy = byId<HTMLButtonElement>('token-copy');
  private readonly sound = byId<HTMLInputElement>('sound-setting');
  private readonly privateReceipts = byId<HTMLInputElement>('private-receipts-setting');
  private readonly prefsError = byId('prefs-error');

  constructor(private readonly me: Me) {
    wireDialog(this.dialog);
    this.sound.addEventListener('change', () => setSoundEnabled(this.sound.checked));
    this.privateReceipts.addEventListener('change', () => void this.savePrivateReceipts());
    // The secret lives only in this dialog: closing it forgets the secret for good.
    this.dialog.addEventListener('close', () => this.hideSecret());
    this.passwordForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.changePassword();
    });
    for (const input of [this.current, this.next]) {
      input.addEventListener('input', () => {
        this.passwordError.textContent = '';
        this.passwordOk.textContent = '';
      });
    }
    this.tokenForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.createToken();
    });
    this.tokenName.addEventListener('input', () => (this.tokenError.textContent = ''));
    this.copy.addEventListener('click', () => void this.copySecret());
  }

  open(): void {
    this.current.value = this.next.value = this.tokenName.value = '';
    this.passwordError.textContent = this.passwordOk.textContent = this.tokenError.textContent = '';
    this.hideSecret();
    this.sound.checked = soundEnabled();
    this.privateReceipts.checked = this.me.privateReceipts === true;
    this.prefsError.textContent = '';
    this.dialog.showModal();
    void this.refreshTokens();
  }

  private async savePrivateReceipts(): Promise<void> {
    const wanted = this.privateReceipts.checked;
    this.privateReceipts.disabled = true;
    this.prefsError.textContent = '';
    try {
      const user = await updateSettings({ privateReceipts: wanted });
      this.me.privateReceipts = user.privateReceipts ?? wanted;
    } catch (err) {
      this.privateReceipts.checked = !wanted;
      this.prefsError.textContent = err instanceof ApiError ? err.message : 'Could not save the setting';
    } finally {
      this.privateReceipts.disabled = false;
    }
  }

  private async changePassword(): Promise<void> {
    if (this.current.value === '' || this.next.value === '') {
      this.passwordError.textContent = 'Enter your current and your new password';
      return;
    }
    try {
      await changePassword(this.current.value, this.next.value);
      this.current.value = this.next.value = '';
      this.passwordOk.textContent = 'Password changed. Your other sessions were signed out.';
    } catch (err) {
      this.passwordError.textContent = err instanceof ApiError ? err.message : 'Could not change the password';
    }
  }

  private async refreshTokens(): Promise<void> {
    let tokens: ApiToken[];
    try {
      tokens = await fetchTokens();
    } catch (err) {
      this.tokenError.textContent = err instanceof ApiError ? err.message : 'Could not load the tokens';
      return;
    }
    this.tokenList.replaceChildren(...tokens.map((t) => this.tokenItem(t)));
    if (tokens.length === 0) this.tokenList.append(el('li', { className: 'item-note', text: 'No tokens yet.' }));
  }

  private tokenItem(token: ApiToken): HTMLLIElement {
    const revoke = el('button', {
      className: 'button button-small button-danger-quiet',
      text: 'Revoke',
      attrs: { type: 'button', 'data-testid': 'token-revoke' },
    });
    revoke.addEventListener('click', async () => {
      revoke.disabled = true;
      try {
        await revokeToken(token.id);
        await this.refreshTokens();
      } catch (err) {
        revoke.disabled = false;
        this.tokenError.textContent = err instanceof ApiError ? err.message : 'Could not revoke the token';
      }
    });
    const used = token.lastUsedAt === null ? 'never used' : `last used ${dateFormat.format(new Date(token.lastUsedAt))}`;
    return el('li', {
      className: 'item',
      attrs: { 'data-testid': 'token', 'data-name': token.name },
      children: [
        el('span', { className: 'item-main', text: token.name }),
        el('span', { className: 'item-sub', text: `created ${dateFormat.format(new Date(token.createdAt))}, ${used}` }),
        revoke,
      ],
    });
  }

  private async createToken(): Promise<void> {
    const name = this.tokenName.value.trim();
    if (name === '') {
      this.tokenError.textContent = 'Name the token (what it is for)';
      return;
    }
    try {
      const { secret } = await createToken(name);
      this.tokenName.value = '';
      this.secret.value = secret;
      this.copy.textContent = 'Copy';
      this.secretBox.hidden = false;
      this.secret.select();
      await this.refreshTokens();
    } catch (err) {
      this.tokenError.textContent = err instanceof ApiError ? err.message : 'Could not create the token';
    }
  }

  private async copySecret(): Promise<void> {
    this.secret.select();
    try {
      await navigator.clipboard.writeText(this.secret.value);
      this.copy.textContent = 'Copied';
    } catch {
      // No clipboard permission: the text is selected, so Ctrl+C / long-press copies it.
      this.copy.textContent = 'Press Ctrl+C';
    }
  }

  private hideSecret(): void {
    this.secret.value = '';
    this.secretBox.hidden = true;
  }
}
