// GET /v1/answers/{id}/stream read with fetch(): EventSource cannot send the site key (Authorization).
// A dropped connection is resumed with Last-Event-ID; the server replays only what was not seen.

import { ApiError, apiFetch } from "./api.js";

const MAX_RECONNECTS = 6;
const MAX_DELAY_MS = 8000;

/** Yields {event, data, id} for each complete event of an SSE byte stream (comments skipped). */
export async function* readEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8");
  let buffer = "";
  let event = { event: "message", data: [], id: null };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop(); // the last piece may be an incomplete line
      for (const line of lines) {
        if (line === "") {
          if (event.data.length) yield { event: event.event, data: event.data.join("\n"), id: event.id };
          event = { event: "message", data: [], id: null };
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? "" : line.slice(colon + 1);
          if (value.startsWith(" ")) value = value.slice(1);
          if (field === "event") event.event = value;
          else if (field === "data") event.data.push(value);
          else if (field === "id") event.id = value;
        }
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new DOMException("arrêté", "AbortError"));
    });
  });
}

/**
 * Follows an answer's events until a terminal one: onEvent(kind, data) returns true when it was.
 * onReconnect(attempt) is called before each new connection after a drop. Rejects with ApiError
 * (4xx, or the connection lost for good) or AbortError.
 */
export async function followAnswer(answerId, { onEvent, onReconnect, signal }) {
  const path = `/v1/answers/${encodeURIComponent(answerId)}/stream`;
  let lastEventId = null;
  let failures = 0;
  for (;;) {
    try {
      const headers = { Accept: "text/event-stream" };
      if (lastEventId) headers["Last-Event-ID"] = lastEventId;
      const response = await apiFetch(path, { headers, signal });
      for await (const frame of readEvents(response.body)) {
        if (frame.id) lastEventId = frame.id;
        failures = 0;
        let data;
        try {
          data = JSON.parse(frame.data);
        } catch {
          continue; // not ours: ignored rather than breaking the answer
        }
        if (onEvent(frame.event, data)) return;
      }
    } catch (error) {
      if (signal?.aborted || error?.name === "AbortError") throw error;
      if (error instanceof ApiError && !error.transient) throw error;
    }
    // The stream ended before a terminal event: a network drop, a replica shutting down.
    failures += 1;
    if (failures > MAX_RECONNECTS) {
      throw new ApiError(0, "connexion_perdue", "La connexion au serveur a été perdue ; réessayez.");
    }
    onReconnect?.(failures);
    await sleep(Math.min(500 * 2 ** (failures - 1), MAX_DELAY_MS), signal);
  }
}
