// The advisor's page: ask, follow the streamed answer, show its sources and links, rate it.

import { ApiError, apiJson, postJson, storeKey } from "./api.js";
import { byId, show } from "./dom.js";
import { FeedbackForm } from "./feedback.js";
import { FollowUpForm, ThreadView, threadAfter } from "./followup.js";
import { loadHistory, remember, renderHistory } from "./history.js";
import {
  AUDIENCES,
  isRefusal,
  plainText,
  renderAnswerText,
  renderHelpers,
  renderLinks,
  renderNotice,
  renderRelated,
  renderSources,
} from "./render.js";
import { followAnswer } from "./sse.js";

const STATUS_TEXT = {
  queued: "Question reçue : en attente d'un rédacteur disponible…",
  running: "Recherche dans les fiches et rédaction de la réponse…",
  restarted: "La rédaction a été interrompue : elle reprend depuis le début…",
};
const MAX_CHARS = 2000;
const UNEXPECTED = "Erreur inattendue de la page : rechargez-la puis réessayez.";

const ui = {
  form: byId("ask-form"),
  question: byId("question"),
  questionGroup: byId("question-group"),
  questionError: byId("question-error"),
  audience: byId("audience"),
  situation: byId("situation"),
  section: byId("reponse"),
  title: byId("answer-title"),
  asked: byId("answer-question"),
  context: byId("answer-context"),
  status: byId("answer-status"),
  mode: byId("answer-mode"),
  notice: byId("answer-notice"),
  noticeText: byId("answer-notice-text"),
  removed: byId("answer-removed"),
  text: byId("answer-text"),
  error: byId("answer-error"),
  errorText: byId("answer-error-text"),
  tools: byId("answer-tools"),
  copy: byId("copy-button"),
  copyStatus: byId("copy-status"),
  sources: byId("sources-section"),
  links: byId("links-section"),
  helpers: byId("helpers-section"),
  related: byId("related-section"),
  feedbackSection: byId("feedback-section"),
  keyPanel: byId("key-panel"),
  keyForm: byId("key-form"),
  keyInput: byId("site-key"),
  keyMessage: byId("key-message"),
  skipToAnswer: byId("skip-answer"),
  history: byId("history-list"),
  historyEmpty: byId("history-empty"),
};

let current = null; // {id, question, audience, situation, draft, candidates, record, controller}
let pendingRetry = null; // what to do again once a site key is entered
const feedback = new FeedbackForm((error, retry) => askForKey(error, retry));
const threadView = new ThreadView(ui.asked);
const followUp = new FollowUpForm(ui.tools, askFollowUp);

function setStatus(text) {
  ui.status.textContent = text;
}

function knownNumbers(sources) {
  return new Set(sources.map((s) => Number(s.n)));
}

function refreshHistory() {
  renderHistory(ui.history, ui.historyEmpty, loadHistory(), openPrevious, current?.id);
}

function startAnswer(state) {
  current?.controller.abort();
  current = state;
  show(ui.section);
  show(ui.skipToAnswer);
  ui.asked.textContent = state.question;
  threadView.render(state.thread || []);
  followUp.hide();
  const audience = AUDIENCES[state.audience] || AUDIENCES.particuliers;
  const situation = state.situation ? ` — Situation : ${state.situation}` : "";
  ui.context.textContent = `Public : ${audience}${situation}`;
  const parts = [ui.notice, ui.error, ui.tools, ui.sources, ui.links, ui.helpers, ui.related];
  for (const node of [...parts, ui.feedbackSection]) show(node, false);
  ui.mode.replaceChildren();
  ui.text.replaceChildren();
  ui.copyStatus.textContent = "";
  ui.text.setAttribute("aria-busy", "true");
}

function newState(fields) {
  return { draft: "", candidates: [], record: null, controller: new AbortController(), ...fields };
}

function showFailure(message) {
  ui.errorText.textContent = message;
  show(ui.error);
  ui.text.setAttribute("aria-busy", "false");
  setStatus("");
}

function showRecord(state, record) {
  state.record = record;
  ui.text.setAttribute("aria-busy", "false");
  if (record.status === "failed") {
    showFailure(record.error?.message || "La réponse n'a pas pu être produite.");
    return;
  }
  const sources = record.sources || [];
  renderAnswerText(ui.text, record.answer || "", knownNumbers(sources));
  renderNotice({ mode: ui.mode, notice: ui.notice, text: ui.noticeText, removed: ui.removed }, record);
  renderSources(ui.sources, sources, true);
  renderLinks(ui.links, record.links || [], sources);
  renderHelpers(ui.helpers, record.helpers || []);
  // A refusal gets neither a copy button nor "questions liées": nothing in it to pass on or follow.
  const refusal = isRefusal(record);
  renderRelated(ui.related, refusal ? [] : record.related_questions || [], askRelated);
  show(ui.tools, !refusal);
  threadView.render(record.thread || []);
  followUp.reset(record);
  feedback.reset(record.id);
  show(ui.feedbackSection);
  setStatus("Réponse terminée.");
}

function onEvent(state, kind, data) {
  if (state !== current) return true;
  if (kind === "status") {
    if (data.reset) {
      state.draft = "";
      ui.text.replaceChildren();
    }
    setStatus(STATUS_TEXT[data.reset ? "restarted" : data.status] || STATUS_TEXT.running);
  } else if (kind === "sources") {
    state.candidates = Array.isArray(data.sources) ? data.sources : [];
    renderSources(ui.sources, state.candidates, false);
    setStatus(`Rédaction de la réponse à partir de ${state.candidates.length} passage(s) des fiches…`);
  } else if (kind === "token") {
    const offset = Number.isInteger(data.offset) ? data.offset : state.draft.length;
    state.draft = state.draft.slice(0, offset) + String(data.text ?? "");
    renderAnswerText(ui.text, state.draft, knownNumbers(state.candidates));
  } else if (kind === "done") {
    showRecord(state, data);
    return true;
  } else if (kind === "error") {
    showFailure(data.message || "La réponse a échoué.");
    return true;
  }
  return false;
}

async function follow(state) {
  await followAnswer(state.id, {
    signal: state.controller.signal,
    onEvent: (kind, data) => onEvent(state, kind, data),
    onReconnect: (n) => setStatus(`Connexion interrompue : reprise en cours (essai ${n})…`),
  });
}

function handleError(state, error, retry) {
  if (error?.name === "AbortError" || state !== current) return;
  if (error instanceof ApiError) {
    if (error.needsKey) askForKey(error, retry);
    showFailure(error.message);
    return;
  }
  console.error(error);
  showFailure(UNEXPECTED);
}

/** The answer in view and focused, at the top of the window: at 1366×768 it starts below the fold. */
function bringAnswerIntoView() {
  ui.title.focus({ preventScroll: true });
  const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  ui.section.scrollIntoView({ block: "start", behavior: smooth ? "smooth" : "auto" });
}

async function ask(question, audience, situation, followUpOf = null, thread = []) {
  const state = newState({ id: null, question, audience, situation, thread });
  startAnswer(state);
  bringAnswerIntoView();
  setStatus("Envoi de la question…");
  try {
    const payload = { question };
    if (audience) payload.audience = audience;
    if (situation) payload.situation = situation;
    if (followUpOf) payload.follow_up_of = followUpOf;
    const { body } = await postJson("/v1/ask", payload, state.controller.signal);
    state.id = body.id;
    remember({ id: body.id, question, audience, situation, at: Date.now() });
    refreshHistory();
    setStatus(STATUS_TEXT.queued);
    await follow(state);
  } catch (error) {
    handleError(state, error, () => ask(question, audience, situation, followUpOf, thread));
  }
}

async function openPrevious(entry) {
  const state = newState({ ...entry });
  startAnswer(state);
  refreshHistory();
  bringAnswerIntoView();
  setStatus("Chargement de la réponse…");
  try {
    const { status, body } = await apiJson(`/v1/answers/${encodeURIComponent(entry.id)}`, {
      signal: state.controller.signal,
    });
    if (status === 200 && (body.status === "done" || body.status === "failed")) showRecord(state, body);
    else await follow(state);
  } catch (error) {
    handleError(state, error, () => openPrevious(entry));
  }
}

/** A question that follows the answer shown: same audience, the situation carried by the thread. */
function askFollowUp(question) {
  const previous = current?.record;
  if (!previous || previous.status !== "done") return;
  ui.title.focus();
  ask(question, previous.audience, "", previous.id, threadAfter(previous));
}

function askRelated(question) {
  ui.question.value = question;
  ask(question, ui.audience.value, ui.situation.value.trim());
}

function askForKey(error, retry) {
  if (error.status === 401) storeKey(""); // refused: not sent again with the next requests
  pendingRetry = retry;
  ui.keyMessage.textContent = error.message;
  show(ui.keyPanel);
  ui.keyInput.focus();
}

function submitKey(event) {
  event.preventDefault();
  const key = ui.keyInput.value.trim();
  if (!key) {
    ui.keyMessage.textContent = "Saisissez la clé d'accès du site.";
    ui.keyInput.focus();
    return;
  }
  storeKey(key);
  ui.keyInput.value = "";
  show(ui.keyPanel, false);
  const retry = pendingRetry;
  pendingRetry = null;
  if (retry) retry();
  else ui.question.focus();
}

function submitQuestion(event) {
  event.preventDefault();
  const question = ui.question.value.trim();
  const invalid = !question;
  ui.questionGroup.classList.toggle("fr-input-group--error", invalid);
  ui.question.setAttribute("aria-invalid", String(invalid));
  ui.questionError.textContent = invalid ? "Saisissez la question de l'usager." : "";
  show(ui.questionError, invalid);
  if (invalid) {
    ui.question.focus();
    return;
  }
  ask(question, ui.audience.value, ui.situation.value.trim());
}

async function copyAnswer() {
  if (!current?.record) return;
  const text = plainText(current.record);
  try {
    await navigator.clipboard.writeText(text);
    ui.copyStatus.textContent = "Réponse copiée avec ses sources.";
  } catch {
    ui.copyStatus.textContent =
      "La copie a été refusée par le navigateur : sélectionnez le texte pour le copier.";
  }
}

/** The fields keep 2,000 characters (maxlength): a longer paste is cut, and the advisor is told so. */
function warnLongPaste(field, message) {
  field.addEventListener("paste", (event) => {
    const pasted = event.clipboardData?.getData("text") || "";
    const kept = field.value.length - (field.selectionEnd - field.selectionStart);
    const over = kept + pasted.length > MAX_CHARS;
    message.textContent = over
      ? `Le texte collé dépasse ${MAX_CHARS.toLocaleString("fr-FR")} caractères : seuls les ` +
        `${MAX_CHARS.toLocaleString("fr-FR")} premiers sont gardés. Résumez la demande de l'usager.`
      : "";
    show(message, over);
  });
}

ui.form.addEventListener("submit", submitQuestion);
warnLongPaste(ui.question, byId("question-paste"));
warnLongPaste(ui.situation, byId("situation-paste"));
ui.question.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.form.requestSubmit();
  }
});
ui.keyForm.addEventListener("submit", submitKey);
ui.copy.addEventListener("click", copyAnswer);
refreshHistory();
document.documentElement.dataset.guichetReady = "true";
