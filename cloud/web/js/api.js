// The HTTPS API of DESIGN.md section 6. The CSRF token lives in this module's memory only (never
// in storage or URLs); the session itself is the HttpOnly cookie the browser holds.
let csrf_token = null;
let on_session_lost = () => {};

// `details`: the answer's other fields (e.g. min_length), which the page's wording of the code uses.
export class api_error extends Error {
  constructor(status, code, message, details = {}) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function set_csrf(token) {
  csrf_token = token;
}

// `fn` runs when an authenticated request answers 401: the session ended on the server.
export function on_lost(fn) {
  on_session_lost = fn;
}

// `background`: the page asks on its own (polling), not the user. The server then neither counts
// the request as activity for the idle log-off nor records it in the access log.
export async function call(method, path, body, { background = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && csrf_token) headers['X-CSRF-Token'] = csrf_token;
  if (background) headers['X-Aterm-Background'] = '1';
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch('/api/v1' + path, init);
  let data = null;
  if (res.status !== 204) {
    try {
      data = await res.json();
    } catch {
      data = null;
    }
  }
  if (res.status === 401 && path !== '/session') on_session_lost();
  if (!res.ok) {
    throw new api_error(res.status, data?.error ?? `http_${res.status}`, data?.message ?? '', data ?? {});
  }
  return data;
}

export const get = (path) => call('GET', path);
// A GET the page makes on its own, e.g. a periodic refresh.
export const poll = (path) => call('GET', path, undefined, { background: true });
export const post = (path, body) => call('POST', path, body ?? {});
export const patch = (path, body) => call('PATCH', path, body);
export const del = (path) => call('DELETE', path);

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}
