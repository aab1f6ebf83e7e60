// The answer record (and the draft while it streams) as DOM nodes, and as plain text for the clipboard.

import { append, clear, el, externalLink, safeUrl, show } from "./dom.js";

const CITATION = /\[(\d{1,3})\]/g;
const BADGE = "fr-badge fr-badge--sm fr-badge--blue-ecume";
export const LINK_LABELS = { teleservice: "Téléservice", simulateur: "Simulateur", formulaire: "Formulaire" };
export const AUDIENCES = {
  particuliers: "Particuliers",
  professionnels: "Professionnels",
  associations: "Associations",
};
const REMOVED_KINDS = {
  url: "adresse web",
  phone: "numéro de téléphone",
  amount: "montant",
  cerfa: "numéro de cerfa",
};
export const MODE_TEXT = {
  generated:
    "Réponse rédigée par un modèle de langage à partir des fiches citées : vérifiez-la dans les sources.",
  extractive: "Réponse composée d'extraits des fiches, cités tels quels, sans rédaction automatique.",
};

const LINK = /\[([^\[\]\n]{1,200})\]\((https?:\/\/[^\s()]+)\)/g;
const CASE_LINE = /^Cas « (.+) » :$/;
const ITEM = /^\s*(?:([-•])|(\d{1,2})[.)])\s+(.+)$/;
const TRAILING_MARKERS = /((?:\s*\[\d{1,3}\])+)\s*$/;

/** [n] markers as links to the numbered sources (when that source is listed). */
function withCitations(text, known) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(CITATION)) {
    const n = Number(match[1]);
    if (!known.has(n)) continue;
    nodes.push(text.slice(last, match.index));
    nodes.push(el("a", { href: `#source-${n}`, class: "citation", "aria-label": `source ${n}` }, `[${n}]`));
    last = match.index + match[0].length;
  }
  nodes.push(text.slice(last));
  return nodes;
}

/** A line's inline content: "[text](https://…)" as a link (never a raw URL), [n] as citations. */
function inline(text, known) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    nodes.push(...withCitations(text.slice(last, match.index), known));
    nodes.push(externalLink(match[2], match[1]));
    last = match.index + match[0].length;
  }
  nodes.push(...withCitations(text.slice(last), known));
  return nodes;
}

function tableCells(line) {
  return line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
}

/** "| a | b | [1]" rows (the first one names the columns) as a table; markers go to the last cell. */
function renderTable(rows, known) {
  const parsed = rows
    .map((row) => {
      const markers = row.match(TRAILING_MARKERS)?.[1] || "";
      return { cells: tableCells(row.replace(TRAILING_MARKERS, "")), markers };
    })
    .filter((row) => !row.cells.every((c) => /^-{3,}$/.test(c)));
  const [head, ...body] = parsed;
  const cell = (tag, text, markers = "") => el(tag, {}, inline(text + markers, known));
  return el(
    "div",
    { class: "fr-table answer-table" },
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, head.cells.map((c) => cell("th", c)))),
      el(
        "tbody",
        {},
        body.map((row) =>
          el("tr", {}, row.cells.map((c, i) => cell("td", c, i === row.cells.length - 1 ? ` ${row.markers}` : ""))),
        ),
      ),
    ),
  );
}

/** The answer as the advisor reads it: paragraphs, "Cas « … » :" headings, lists and tables. */
export function renderAnswerText(container, text, known) {
  clear(container);
  const lines = text.split("\n");
  let index = 0;
  while (index < lines.length) {
    const line = lines[index];
    if (!line.trim()) {
      index += 1;
      continue;
    }
    if (line.trim().startsWith("|")) {
      const rows = [];
      while (index < lines.length && lines[index].trim().startsWith("|")) rows.push(lines[index++]);
      container.append(renderTable(rows, known));
      continue;
    }
    const item = line.match(ITEM);
    if (item) {
      const list = el(item[1] ? "ul" : "ol", { class: "answer-list" });
      while (index < lines.length) {
        const next = lines[index].match(ITEM);
        if (!next || Boolean(next[1]) !== Boolean(item[1])) break;
        list.append(el("li", { value: next[2] || null }, inline(next[3], known)));
        index += 1;
      }
      container.append(list);
      continue;
    }
    const heading = line.trim().match(CASE_LINE);
    if (heading) {
      container.append(el("p", { class: "answer-case" }, el("strong", {}, `Cas : ${heading[1]}`)));
    } else {
      container.append(el("p", {}, inline(line, known)));
    }
    index += 1;
  }
}

/** "2020-11-03" as "03/11/2020" ("" when not a date). */
export function frenchDate(iso) {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || "");
  return match ? `${match[3]}/${match[2]}/${match[1]}` : "";
}

function sourceItem(source, final) {
  const item = el("li", { id: `source-${source.n}`, tabindex: "-1", class: "sources__item" });
  const title = externalLink(source.url, source.title || source.id);
  append(item, el("span", { class: "sources__n" }, `[${source.n}] `), title);
  const updated = frenchDate(source.updated);
  const details = [
    source.id,
    source.branch ? `situation : ${source.branch}` : "",
    updated ? `mise à jour le ${updated}` : "",
  ].filter(Boolean);
  if (details.length) {
    item.append(el("span", { class: "fr-text--xs sources__details" }, ` — ${details.join(" · ")}`));
  }
  if (source.example) {
    item.append(" ", el("p", { class: "fr-badge fr-badge--sm fr-badge--warning sources__flag" }, "fiche d'exemple, non officielle"));
  }
  if (source.outdated) {
    item.append(" ", el("p", { class: "fr-badge fr-badge--sm fr-badge--warning sources__flag" }, `fiche ancienne (${updated})`));
  }
  if (final && source.excerpt) item.append(el("blockquote", { class: "sources__excerpt" }, source.excerpt));
  return item;
}

/** final: the record's cited sources (with excerpts); otherwise the passages being read. */
export function renderSources(section, sources, final) {
  const list = section.querySelector("ol");
  const title = section.querySelector("h3");
  title.textContent = final ? "Sources" : "Fiches consultées";
  clear(list);
  for (const source of sources) list.append(sourceItem(source, final));
  show(section, sources.length > 0);
}

function linkTile(link, sourceTitles) {
  const label = LINK_LABELS[link.type] || "Lien";
  const origin = link.source ? sourceTitles.get(link.source) || link.source : "";
  const body = el(
    "div",
    { class: "fr-tile__content" },
    el("h4", { class: "fr-tile__title" }, externalLink(link.url, link.title || label)),
    link.cerfa ? el("p", { class: "fr-tile__desc" }, `Formulaire cerfa n° ${link.cerfa}`) : null,
    origin ? el("p", { class: "fr-tile__detail" }, `D'après la fiche : ${origin}`) : null,
    el("div", { class: "fr-tile__start" }, el("p", { class: BADGE }, label)),
  );
  const enlarge = safeUrl(link.url) ? " fr-enlarge-link" : "";
  const tile = el(
    "div",
    { class: `fr-tile fr-tile--sm fr-tile--horizontal${enlarge}` },
    el("div", { class: "fr-tile__body" }, body),
  );
  const item = el("li", { class: "fr-col-12 fr-col-md-6" }, tile);
  const notice = safeUrl(link.notice_url);
  if (notice) {
    const text = `Notice du formulaire ${link.cerfa || ""}`.trim();
    item.append(el("p", { class: "fr-text--xs fr-mt-1v" }, externalLink(notice, text)));
  }
  return item;
}

export function renderLinks(section, links, sources) {
  const sourceTitles = new Map(sources.map((s) => [s.id, s.title]));
  const list = clear(section.querySelector("ul"));
  for (const link of links) list.append(linkTile(link, sourceTitles));
  show(section, links.length > 0);
}

export function renderHelpers(section, helpers) {
  const list = clear(section.querySelector("ul"));
  for (const helper of helpers) {
    const item = el("li", {}, externalLink(helper.url, helper.title));
    if (helper.kind) item.append(` — ${helper.kind}`);
    list.append(item);
  }
  show(section, helpers.length > 0);
}

/** onAsk(question) is called when a related question is chosen. */
export function renderRelated(section, related, onAsk) {
  const list = clear(section.querySelector("ul"));
  for (const question of related) {
    const classes = "fr-btn fr-btn--tertiary fr-btn--sm related__button";
    const button = el("button", { type: "button", class: classes }, question.question);
    button.addEventListener("click", () => onAsk(question.question));
    list.append(el("li", {}, button));
  }
  show(section, related.length > 0);
}

/** A refusal: nothing cited, so nothing to copy, rate as a mode, or follow up with. */
export function isRefusal(record) {
  return !(record.sources || []).length;
}

/** The mode, once, in the advisor's words; the notice; each fact the guard removed. */
export function renderNotice({ mode, notice, text, removed }, record) {
  clear(mode);
  if (MODE_TEXT[record.mode] && !isRefusal(record)) {
    append(mode, el("p", { class: "fr-text--sm fr-mb-0 answer-mode" }, MODE_TEXT[record.mode]));
  }
  const guard = record.guard_removed || [];
  text.textContent = record.notice || "";
  clear(removed);
  for (const item of guard) {
    const kind = REMOVED_KINDS[item.kind] || item.kind;
    removed.append(el("li", {}, `Retiré car absent des sources : ${kind} « ${item.value} »`));
  }
  show(removed, guard.length > 0);
  show(notice, Boolean(record.notice) || guard.length > 0);
}

/** The record as plain text: what the advisor pastes into a mail or a case file. */
export function plainText(record) {
  const lines = [`Question : ${record.question}`];
  if (record.situation) lines.push(`Situation : ${record.situation}`);
  lines.push("", record.answer.trim());
  if (record.mode === "extractive") lines.push("", `(${MODE_TEXT.extractive})`);
  const section = (title, items) => {
    if (items.length) lines.push("", `${title} :`, ...items);
  };
  section(
    "Sources",
    (record.sources || []).map((s) => {
      const updated = frenchDate(s.updated) ? `, mise à jour le ${frenchDate(s.updated)}` : "";
      const example = s.example ? " (fiche d'exemple, non officielle)" : "";
      return `[${s.n}] ${s.title}${example}${updated}${s.url ? ` — ${s.url}` : ""}`;
    }),
  );
  section(
    "Démarches en ligne et formulaires",
    (record.links || []).map((l) => {
      const cerfa = l.cerfa ? ` (cerfa n° ${l.cerfa})` : "";
      return `- ${LINK_LABELS[l.type] || "Lien"} : ${l.title}${cerfa} — ${l.url}`;
    }),
  );
  section(
    "Qui peut aider",
    (record.helpers || []).map((h) => `- ${h.title}${h.kind ? ` (${h.kind})` : ""}${h.url ? ` — ${h.url}` : ""}`),
  );
  return lines.join("\n");
}
