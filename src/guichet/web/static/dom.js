// Building DOM nodes from data. Text always goes through text nodes, never through HTML parsing: model
// output and document text cannot become markup here, whatever they contain.

const SAFE_PROTOCOLS = new Set(["http:", "https:"]);

/** el("a", {href: url, class: "fr-link"}, "text", child): attributes are set one by one, children
 * are nodes or strings (strings become text nodes). "style" and "on…" attributes are refused. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "style" || name.toLowerCase().startsWith("on")) {
      throw new Error(`attribut refusé : ${name}`);
    }
    node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, ...children);
  return node;
}

export function append(node, ...children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`élément manquant : #${id}`);
  return node;
}

/** The URL if it is http(s), else null: a javascript: or data: URL from a document never becomes a link. */
export function safeUrl(value) {
  if (typeof value !== "string" || !value.trim()) return null;
  try {
    const url = new URL(value.trim(), window.location.href);
    return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

/** A link opening in a new tab, or plain text when the URL is not http(s). */
export function externalLink(url, text, attributes = {}) {
  const href = safeUrl(url);
  if (!href) return el("span", {}, text);
  return el(
    "a",
    {
      href,
      target: "_blank",
      rel: "noopener noreferrer",
      title: `${text} — nouvelle fenêtre`,
      ...attributes,
    },
    text,
  );
}

export function show(node, visible = true) {
  node.hidden = !visible;
  return node;
}
