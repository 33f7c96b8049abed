// Talking to this server's API: same origin only, the API key (if any) as a Bearer token.
//
// The key lives in localStorage under KEY_NAME. It is only ever sent to this page's own
// origin: every URL goes through sameOrigin(), and the page's Content-Security-Policy
// (connect-src 'self') makes the browser refuse any other host as well.

export const KEY_NAME = "awel.apiKey";
export const API = "/api/v1/serve/awel";

export function apiKey() {
  try {
    return localStorage.getItem(KEY_NAME) || "";
  } catch {
    return "";
  }
}

export function setApiKey(key) {
  if (key) localStorage.setItem(KEY_NAME, key);
  else localStorage.removeItem(KEY_NAME);
}

/** The URL of `path` on this origin; throws for anything that would leave it. */
export function sameOrigin(path) {
  if (typeof path !== "string" || !path.startsWith("/") || path.startsWith("//")) {
    throw new Error(`refusing to call ${path}: only paths of this server are called`);
  }
  const url = new URL(path, window.location.origin);
  if (url.origin !== window.location.origin) throw new Error(`refusing to call ${path}`);
  return url;
}

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** fetch() on this origin with the key; `onUnauthorized` runs on a 401. */
export async function call(path, { method = "GET", body, signal, raw = false } = {}) {
  const headers = { Accept: "application/json" };
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(sameOrigin(path), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    credentials: "omit",
    redirect: "error",
  });
  if (resp.status === 401) {
    call.onUnauthorized?.();
  }
  if (raw) return resp;
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!resp.ok || (data && data.success === false)) {
    const message = (data && (data.err_msg || data.error?.message)) || text || resp.statusText;
    throw new ApiError(resp.status, message, data);
  }
  // DB-GPT's serve Result envelope: the payload is its data.
  return data && typeof data === "object" && "success" in data && "data" in data ? data.data : data;
}

/** Read an SSE response, calling `onData(text)` for each event's data as it arrives. */
export async function readEvents(resp, onData) {
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const lines = block.split("\n").filter((l) => l.startsWith("data:"));
      if (lines.length) onData(lines.map((l) => l.replace(/^data: ?/, "")).join("\n"));
    }
  }
}
