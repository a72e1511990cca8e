// The console's client of Nimbus's public HTTP API. Signed in with a
// cookie session, it sends the CSRF token (the nimbus_csrf cookie) with
// every unsafe request; signed in through an OpenID provider, it sends the
// provider's access token, kept for this tab only. No password is kept.

export const base = location.pathname.replace(/\/console(\/.*)?$/, "");
const tokenKey = "nimbus-console-bearer";

/** An answer of the API that is not a success, with Kinto's error body. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `The server answered ${status}.`);
    this.status = status;
    this.body = body || {};
  }
  /** The validation details of a 400, as {field: description}. */
  fields() {
    const out = {};
    for (const d of Array.isArray(this.body.details) ? this.body.details : []) {
      if (d && d.name) out[String(d.name).replace(/^data\./, "")] = d.description;
    }
    return out;
  }
}

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)nimbus_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : "";
}

export function bearer() { return sessionStorage.getItem(tokenKey); }
export function setBearer(token) {
  if (token) sessionStorage.setItem(tokenKey, token); else sessionStorage.removeItem(tokenKey);
}

/**
 * Sends one request to the API (path under /v1). Resolves to
 * {status, headers, body}; rejects with an ApiError for 4xx and 5xx.
 */
export async function api(method, path, { body, headers = {}, form } = {}) {
  const h = { ...headers };
  let payload;
  if (form) {
    h["Content-Type"] = "application/x-www-form-urlencoded";
    payload = new URLSearchParams(form).toString();
  } else if (body !== undefined) {
    h["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const tok = bearer();
  if (tok) h.Authorization = "Bearer " + tok;
  else if (!["GET", "HEAD"].includes(method)) h["X-CSRF-Token"] = csrfToken();
  const res = await fetch(base + path, { method, headers: h, body: payload, credentials: "same-origin" });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!res.ok) throw new ApiError(res.status, json || { message: text || res.statusText });
  return { status: res.status, headers: res.headers, body: json };
}

/** The root URL: server information and who the caller is. */
export async function root() { return (await api("GET", "/")).body; }

export async function signIn(username, password) {
  setBearer(null);
  return api("POST", "/account/session", { body: { data: { username, password } } });
}

export async function signOut() {
  if (bearer()) { setBearer(null); return; }
  await api("DELETE", "/account/session").catch(() => {});
}

/** Quotes a value for a URL path segment. */
export const seg = (s) => encodeURIComponent(s);

/** The ETag value of an object ("<last_modified>"), for If-Match. */
export const etag = (obj) => `"${obj.last_modified}"`;
