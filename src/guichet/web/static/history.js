// The questions asked in this tab (sessionStorage: gone when the tab closes, never sent anywhere).

import { clear, el, show } from "./dom.js";

const STORAGE = "guichet.history";
const MAX_ITEMS = 30;

export function loadHistory() {
  try {
    const items = JSON.parse(sessionStorage.getItem(STORAGE) || "[]");
    return Array.isArray(items) ? items.filter((i) => i && typeof i.id === "string") : [];
  } catch {
    return [];
  }
}

export function remember(entry) {
  const items = [entry, ...loadHistory().filter((i) => i.id !== entry.id)].slice(0, MAX_ITEMS);
  try {
    sessionStorage.setItem(STORAGE, JSON.stringify(items));
  } catch {
    // Storage full or disabled: the list just stops growing.
  }
  return items;
}

/** onOpen(entry) is called when a previous question is chosen. */
export function renderHistory(list, empty, items, onOpen, currentId) {
  clear(list);
  for (const entry of items) {
    const at = new Date(entry.at || Date.now());
    const time = at.toLocaleTimeString("fr-FR", { hour: "2-digit", minute: "2-digit" });
    const button = el(
      "button",
      { type: "button", class: "history__button", "aria-current": entry.id === currentId ? "true" : null },
      el("span", { class: "history__question" }, String(entry.question || "")),
      el("span", { class: "fr-text--xs history__time" }, ` ${time}`),
    );
    button.addEventListener("click", () => onOpen(entry));
    list.append(el("li", {}, button));
  }
  show(empty, items.length === 0);
}
