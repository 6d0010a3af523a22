// What controld's dashboard (docs/control-api.md, "Dashboard") and the hub's
// fleet view (docs/fleet.md, "The fleet dashboard") share: $, the banner,
// the light/dark theme and its toggle, and the token: its prompt, and how
// requests and streams carry it. Loaded before each page's own script, as
// window.resolvix; no build step: this file is served as it is.
'use strict';

window.resolvix = (() => {
  const $ = (id) => document.getElementById(id);
  const THEME_KEY = 'resolvix-theme';

  // The page's one notice line under the header (#banner); '' hides it.
  function banner(message) {
    const b = $('banner');
    b.hidden = !message;
    b.textContent = message || '';
  }

  // The system's choice (prefers-color-scheme) until the operator picks one
  // with #theme-toggle; the pick is kept for this browser, for both pages.
  // restyle runs after every later change: the charts take their colours
  // from the palette, which the change swapped.
  function theme(restyle) {
    const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');
    const toggle = $('theme-toggle');
    const current = () => {
      const picked = localStorage.getItem(THEME_KEY);
      if (picked === 'light' || picked === 'dark') return picked;
      return darkQuery.matches ? 'dark' : 'light';
    };
    const apply = () => {
      const t = current();
      document.documentElement.dataset.theme = t;
      toggle.textContent = t === 'dark' ? 'Light' : 'Dark';
      toggle.setAttribute('aria-label', `switch to the ${t === 'dark' ? 'light' : 'dark'} theme`);
    };
    toggle.addEventListener('click', () => {
      localStorage.setItem(THEME_KEY, current() === 'dark' ? 'light' : 'dark');
      apply();
      restyle();
    });
    darkQuery.addEventListener('change', () => {
      apply();
      restyle();
    });
    apply();
  }

  const el = (tag, attrs, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'hidden') e.hidden = v;
      else e.setAttribute(k, v);
    }
    e.append(...children);
    return e;
  };

  // The dialog both pages ask with, built here rather than written into
  // each page; what differs is which server asks and for which setting.
  function tokenDialog(asks, setting, label) {
    const dialog = el('dialog', { id: 'token-dialog' },
      el('form', { id: 'token-form' },
        el('h3', null, 'Token required'),
        el('p', null, `${asks} (`, el('code', null, setting), ' in ',
          el('code', null, '/etc/resolvix/resolvix.conf'), '). It is kept in this tab only.'),
        el('p', { class: 'refused', id: 'token-refused', hidden: true }, 'That token was refused.'),
        el('input', { type: 'password', id: 'token-input', autocomplete: 'off', placeholder: 'token',
          required: '', 'aria-label': label }),
        el('div', { class: 'dialog-buttons' },
          el('button', { type: 'button', id: 'token-cancel', class: 'ghost' }, 'Cancel'),
          el('button', { type: 'submit', id: 'token-ok' }, 'Use token'))));
    document.body.append(dialog);
    return dialog;
  }

  // The bearer token of this page's server, kept in this tab only
  // (sessionStorage under o.key). ask() shows the dialog and resolves once
  // a token was given (true) or the dialog cancelled (false); asks made
  // while it is open share its answer. o.onGiven runs when a token is
  // given, o.onButton after one given from #token-button. fetch() is the
  // browser's, with the token; a 401 asks for it (again, saying the last
  // one was refused) and tries again, until the dialog is cancelled: then
  // it throws o.missing. Once cancelled, only the Token button asks again:
  // a page that refreshes on its own must not pop the dialog up each time.
  function tokenPrompt(o) {
    const dialog = tokenDialog(o.asks, o.setting, o.label);
    let token = sessionStorage.getItem(o.key) || '';
    let waiters = null;
    let declined = false;

    function ask(refused) {
      if (waiters) return new Promise((resolve) => waiters.push(resolve));
      waiters = [];
      $('token-refused').hidden = !refused;
      $('token-input').value = '';
      dialog.showModal();
      return new Promise((resolve) => waiters.push(resolve));
    }
    function done(ok) {
      if (dialog.open) dialog.close();
      declined = !ok;
      const answered = waiters || [];
      waiters = null;
      for (const w of answered) w(ok);
    }
    $('token-form').addEventListener('submit', (e) => {
      e.preventDefault();
      token = $('token-input').value.trim();
      sessionStorage.setItem(o.key, token);
      done(true);
      o.onGiven();
    });
    $('token-cancel').addEventListener('click', () => done(false));
    dialog.addEventListener('cancel', () => done(false));
    $('token-button').addEventListener('click', async () => {
      if (await ask(false)) o.onButton();
    });

    // The headers of a request, with the token when there is one.
    const headers = (more) => (token ? { ...more, Authorization: `Bearer ${token}` } : { ...more });
    // A WebSocket URL's query: browsers cannot set its headers.
    const query = () => (token ? `?token=${encodeURIComponent(token)}` : '');

    async function authFetch(path, init) {
      for (;;) {
        const resp = await fetch(path, { ...init, headers: headers(init && init.headers) });
        if (resp.status !== 401) return resp;
        if (declined || !(await ask(Boolean(token)))) throw new Error(o.missing);
      }
    }

    return {
      get token() { return token; },
      ask,
      query,
      fetch: authFetch,
    };
  }

  return { $, banner, theme, tokenPrompt };
})();
