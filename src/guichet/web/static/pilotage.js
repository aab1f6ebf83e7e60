// The pilotage page: filters → GET /v1/stats (one request per grouping) → tables and a month chart.
// Every value from the API is inserted as text (dom.js); the chart is drawn with SVG attributes, never
// styles (the CSP forbids them), and repeats what the month table says.

import { ApiError, apiFetch, apiJson, storeKey } from "./api.js";
import { byId, clear, el, show } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const SITE_ROWS = 50; // the rest is in the CSV export
const GROUPS = ["month", "region", "departement", "theme", "site"];
const FIRST_COLUMN = {
  month: "Mois",
  region: "Région",
  departement: "Département",
  theme: "Thème",
  site: "Site",
};
const CAPTIONS = {
  month: "Usage et satisfaction par mois",
  region: "Usage et satisfaction par région",
  departement: "Usage et satisfaction par département",
  theme: "Usage et satisfaction par thème de la fiche citée en premier",
  site: "Usage et satisfaction par site",
};
const COLUMNS = [
  "Réponses",
  "Part évaluée",
  "Satisfaction",
  "Motifs des avis négatifs",
  "Part extractive",
  "Part non couverte",
  "Premier jeton, médiane",
  "Premier jeton, 95e centile",
];
const SMALL = "moins de 5 avis";
const MONTHS = [
  "janv.",
  "févr.",
  "mars",
  "avr.",
  "mai",
  "juin",
  "juil.",
  "août",
  "sept.",
  "oct.",
  "nov.",
  "déc.",
];

const integer = new Intl.NumberFormat("fr-FR");
const share = new Intl.NumberFormat("fr-FR", { style: "percent", maximumFractionDigits: 1 });
const decimal = new Intl.NumberFormat("fr-FR", { maximumFractionDigits: 1 });

const ui = {
  form: byId("filtres"),
  from: byId("from"),
  to: byId("to"),
  region: byId("region"),
  departement: byId("departement"),
  theme: byId("theme"),
  site: byId("site"),
  sitesList: byId("sites-list"),
  csv: byId("csv-button"),
  status: byId("status"),
  error: byId("error"),
  errorText: byId("error-text"),
  period: byId("period"),
  summary: byId("summary"),
  chart: byId("chart"),
  sitesNote: byId("sites-note"),
  keyPanel: byId("key-panel"),
  keyForm: byId("key-form"),
  keyInput: byId("site-key"),
  keyMessage: byId("key-message"),
};

let pendingRetry = null;
let filtersLoaded = false;

function pct(value) {
  return value === null || value === undefined ? "—" : share.format(value);
}

function secs(value) {
  return value === null || value === undefined ? "—" : `${decimal.format(value)} s`;
}

function monthLabel(key) {
  const [year, month] = key.split("-");
  const index = Number.parseInt(month, 10) - 1;
  return MONTHS[index] ? `${MONTHS[index]} ${year}` : key;
}

function satisfaction(row) {
  return row.small_group ? SMALL : pct(row.satisfaction);
}

function reasons(row) {
  if (!row.top_down_reasons.length) return "—";
  return row.top_down_reasons.map((r) => `${r.label} (${integer.format(r.count)})`).join(", ");
}

function cells(row) {
  return [
    integer.format(row.answers),
    pct(row.share_rated),
    satisfaction(row),
    reasons(row),
    pct(row.extractive_share),
    pct(row.not_covered_share),
    secs(row.first_token_p50_s),
    secs(row.first_token_p95_s),
  ];
}

function query(extra = {}) {
  const params = new URLSearchParams();
  const values = {
    from: ui.from.value,
    to: ui.to.value,
    region: ui.region.value,
    departement: ui.departement.value,
    theme: ui.theme.value,
    site: ui.site.value.trim(),
    ...extra,
  };
  for (const [name, value] of Object.entries(values)) if (value) params.set(name, value);
  return params.toString();
}

function table(group, body) {
  const rows = group === "site" ? body.groups.slice(0, SITE_ROWS) : body.groups;
  const head = el(
    "tr",
    {},
    el("th", { scope: "col" }, FIRST_COLUMN[group]),
    COLUMNS.map((c) => el("th", { scope: "col" }, c)),
  );
  const label = (row) => (group === "month" ? monthLabel(row.key) : row.label);
  const lines = rows.map((row) =>
    el(
      "tr",
      {},
      el("th", { scope: "row" }, label(row)),
      cells(row).map((c) => el("td", {}, c)),
    ),
  );
  const total = el(
    "tr",
    { class: "total" },
    el("th", { scope: "row" }, "Ensemble"),
    cells(body.total).map((c) => el("td", {}, c)),
  );
  const empty = rows.length
    ? []
    : [el("tr", {}, el("td", { colspan: COLUMNS.length + 1 }, "Aucune réponse sur cette période."))];
  return el(
    "div",
    { class: "fr-table__wrapper" },
    el(
      "div",
      // Wide tables scroll sideways: the scrolling box takes the focus, so the keyboard can scroll it.
      {
        class: "fr-table__container",
        tabindex: 0,
        role: "region",
        "aria-label": `${CAPTIONS[group]} (défilement horizontal)`,
      },
      el(
        "div",
        { class: "fr-table__content" },
        el(
          "table",
          { id: `data-${group}` },
          el("caption", {}, CAPTIONS[group]),
          el("thead", {}, head),
          el("tbody", {}, lines, empty, total),
        ),
      ),
    ),
  );
}

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  for (const child of children)
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

/** Bars of answers per month: decorative for assistive technologies (the month table says the same). */
function chart(rows) {
  const width = 720;
  const height = 240;
  const base = 200;
  const max = Math.max(1, ...rows.map((r) => r.answers));
  const step = rows.length ? width / rows.length : width;
  const bar = Math.max(4, Math.min(48, step * 0.6));
  const drawing = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "chart__svg",
    "aria-hidden": "true",
    focusable: "false",
  });
  drawing.append(svg("line", { x1: 0, y1: base, x2: width, y2: base, class: "chart__axis" }));
  rows.forEach((row, i) => {
    const h = Math.round((row.answers / max) * 170);
    const x = i * step + (step - bar) / 2;
    drawing.append(svg("rect", { x, y: base - h, width: bar, height: h, class: "chart__bar" }));
    drawing.append(
      svg("text", { x: x + bar / 2, y: base - h - 6, class: "chart__value" }, integer.format(row.answers)),
    );
    const [year, month] = row.key.split("-");
    const name = MONTHS[Number.parseInt(month, 10) - 1] || row.key;
    drawing.append(svg("text", { x: x + bar / 2, y: base + 16, class: "chart__label" }, name));
    if (i === 0 || month === "01") {
      drawing.append(svg("text", { x: x + bar / 2, y: base + 32, class: "chart__label" }, year));
    }
  });
  return drawing;
}

function summary(body) {
  const t = body.total;
  const tiles = [
    ["Réponses", integer.format(t.answers)],
    ["Avis donnés", `${integer.format(t.ratings)} (${pct(t.share_rated)} des réponses)`],
    ["Satisfaction", satisfaction(t)],
    ["Réponses en extraits", pct(t.extractive_share)],
    ["Questions non couvertes", pct(t.not_covered_share)],
    ["Premier jeton", `${secs(t.first_token_p50_s)} (médiane), ${secs(t.first_token_p95_s)} (95 %)`],
  ];
  return tiles.map(([name, value]) =>
    el(
      "li",
      { class: "fr-col-12 fr-col-sm-6 fr-col-lg-4" },
      el(
        "div",
        { class: "summary__tile" },
        el("p", { class: "summary__name" }, name),
        el("p", { class: "summary__value" }, value),
      ),
    ),
  );
}

function render(results) {
  const total = results.month;
  ui.period.textContent = `Du ${monthLabel(total.period.from)} au ${monthLabel(total.period.to)}, mois inclus.`;
  clear(ui.summary).append(...summary(total));
  clear(ui.chart).append(chart(results.month.groups));
  for (const group of GROUPS) clear(byId(`table-${group}`)).append(table(group, results[group]));
  const sites = results.site.groups.length;
  ui.sitesNote.textContent =
    sites > SITE_ROWS
      ? `Les ${SITE_ROWS} sites les plus actifs sur ${integer.format(sites)} : l'export CSV donne la liste complète.`
      : `${integer.format(sites)} site(s) actif(s) sur la période.`;
  if (!ui.from.value) ui.from.value = total.period.from;
  if (!ui.to.value) ui.to.value = total.period.to;
}

async function refresh() {
  show(ui.error, false);
  ui.status.textContent = "Chargement des statistiques…";
  try {
    if (!filtersLoaded) await loadFilters();
    const bodies = await Promise.all(GROUPS.map((g) => apiJson(`/v1/stats?${query({ group_by: g })}`)));
    const results = Object.fromEntries(GROUPS.map((g, i) => [g, bodies[i].body]));
    render(results);
    ui.status.textContent = `Statistiques à jour : ${integer.format(results.month.total.answers)} réponses.`;
    document.documentElement.dataset.guichetLoaded = "true";
  } catch (error) {
    failed(error, refresh);
  }
}

function option(value, label) {
  return el("option", { value }, label);
}

async function loadFilters() {
  const [sites, themes] = await Promise.all([apiJson("/v1/sites"), apiJson("/v1/stats/themes")]);
  const regions = [...new Set(sites.body.map((s) => s.region))].sort((a, b) => a.localeCompare(b, "fr"));
  const departements = [...new Set(sites.body.map((s) => s.departement))].sort();
  ui.region.append(...regions.map((r) => option(r, r)));
  ui.departement.append(...departements.map((d) => option(d, d)));
  ui.theme.append(...themes.body.filter((t) => t).map((t) => option(t, t)));
  clear(ui.sitesList).append(...sites.body.map((s) => option(s.id, `${s.name} (${s.commune})`)));
  filtersLoaded = true;
}

async function exportCsv() {
  show(ui.error, false);
  try {
    const response = await apiFetch(`/v1/stats?${query({ group_by: "site", format: "csv" })}`, {
      headers: { Accept: "text/csv" },
    });
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: "guichet-statistiques-par-site.csv", hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    ui.status.textContent = "Export CSV téléchargé.";
  } catch (error) {
    failed(error, exportCsv);
  }
}

function failed(error, retry) {
  if (error instanceof ApiError && error.needsKey) {
    if (error.status === 401) storeKey("");
    pendingRetry = retry;
    ui.keyMessage.textContent = error.message;
    show(ui.keyPanel);
    ui.status.textContent = "";
    ui.keyInput.focus();
    return;
  }
  ui.status.textContent = "";
  ui.errorText.textContent =
    error instanceof ApiError ? error.message : "Erreur inattendue de la page : rechargez-la.";
  show(ui.error);
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  refresh();
});
ui.csv.addEventListener("click", exportCsv);
ui.keyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const key = ui.keyInput.value.trim();
  if (!key) {
    ui.keyMessage.textContent = "Saisissez la clé d'accès.";
    ui.keyInput.focus();
    return;
  }
  storeKey(key);
  ui.keyInput.value = "";
  show(ui.keyPanel, false);
  const retry = pendingRetry || refresh;
  pendingRetry = null;
  retry();
});

document.documentElement.dataset.guichetReady = "true";
refresh();
