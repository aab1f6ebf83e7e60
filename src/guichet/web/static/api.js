// Calls to the guichet API: the site key (when one is stored) on every request, errors in French.

const KEY_STORAGE = "guichet.siteKey";

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  get needsKey() {
    return this.status === 401 || this.status === 403;
  }

  /** Worth retrying on its own: the server or a replica is momentarily unavailable. */
  get transient() {
    return this.status >= 500 || this.status === 0;
  }
}

const DEFAULT_MESSAGES = {
  401: "Une clé d'accès valide est nécessaire pour utiliser guichet sur ce site.",
  403: "Cette clé d'accès ne permet pas cette action.",
  404: "Cette réponse est introuvable : elle a peut-être expiré.",
  429: "Trop de demandes en peu de temps : patientez quelques secondes puis réessayez.",
  503: "Un service nécessaire est momentanément indisponible : réessayez dans un instant.",
};
export const UNREACHABLE = "Le serveur guichet est injoignable : vérifiez la connexion puis réessayez.";

export function storedKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

export function storeKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage disabled: the key is simply asked again next time.
  }
}

function headersWithKey(extra = {}) {
  const headers = { Accept: "application/json", ...extra };
  const key = storedKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  return headers;
}

async function errorFrom(response) {
  let code = "erreur";
  let message = DEFAULT_MESSAGES[response.status] || `Erreur du serveur (HTTP ${response.status}).`;
  try {
    const body = await response.json();
    if (body && body.error && typeof body.error.message === "string") {
      code = String(body.error.code || code);
      message = body.error.message;
    }
  } catch {
    // Not our JSON error shape (a proxy's page): the default message stands.
  }
  const retryAfter = Number.parseInt(response.headers.get("Retry-After") || "", 10);
  return new ApiError(response.status, code, message, Number.isFinite(retryAfter) ? retryAfter : null);
}

/** fetch() with the key; resolves to the Response when its status is 2xx, else rejects with ApiError. */
export async function apiFetch(path, { method = "GET", body, headers = {}, signal } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      body,
      headers: headersWithKey(headers),
      signal,
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (error) {
    if (error && error.name === "AbortError") throw error;
    throw new ApiError(0, "injoignable", UNREACHABLE);
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

export async function apiJson(path, options = {}) {
  const response = await apiFetch(path, options);
  return { status: response.status, body: await response.json() };
}

export function postJson(path, payload, signal) {
  return apiJson(path, {
    method: "POST",
    body: JSON.stringify(payload),
    headers: { "Content-Type": "application/json" },
    signal,
  });
}
