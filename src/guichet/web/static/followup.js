// Follow-up questions (docs/decisions/0026): the thread above the answer, and the "question
// complémentaire" form under it. Both are built here and placed next to existing nodes, so that the
// page's HTML stays as it is.

import { el, show } from "./dom.js";

const MAX_QUESTION_CHARS = 2000;

/** The list of the earlier questions of the thread, just above the question answered. */
export class ThreadView {
  constructor(anchor) {
    this.list = el("ol", { id: "answer-thread-list", class: "thread__list fr-mb-1w" });
    this.section = el(
      "div",
      { id: "answer-thread", class: "thread fr-mb-1w", hidden: true },
      el("p", { id: "answer-thread-title", class: "fr-text--sm fr-mb-0" }, "Fil de la conversation :"),
      this.list,
    );
    this.list.setAttribute("aria-labelledby", "answer-thread-title");
    anchor.before(this.section);
  }

  /** turns: [{question}], oldest first. */
  render(turns) {
    this.list.replaceChildren(...turns.map((turn) => el("li", { class: "fr-text--sm fr-mb-0" }, turn.question)));
    show(this.section, turns.length > 0);
  }
}

/** The form under a finished answer; onAsk(question) asks it as a follow-up of that answer. */
export class FollowUpForm {
  constructor(anchor, onAsk) {
    this.onAsk = onAsk;
    this.input = el("textarea", {
      class: "fr-input",
      id: "follow-up-question",
      name: "follow-up-question",
      rows: 2,
      maxlength: MAX_QUESTION_CHARS,
      "aria-describedby": "follow-up-hint",
    });
    this.error = el("p", { id: "follow-up-error", class: "fr-error-text", hidden: true });
    this.group = el(
      "div",
      { class: "fr-input-group", id: "follow-up-group" },
      el(
        "label",
        { class: "fr-label", for: "follow-up-question" },
        "Votre question complémentaire",
        el(
          "span",
          { class: "fr-hint-text", id: "follow-up-hint" },
          "Elle suit la réponse ci-dessus : « Et s'il est mineur ? » suffit. Le public et la situation sont repris.",
        ),
      ),
      this.input,
      this.error,
    );
    this.form = el(
      "form",
      { id: "follow-up-form", novalidate: true, "aria-labelledby": "follow-up-title" },
      this.group,
      el(
        "button",
        { class: "fr-btn fr-btn--secondary fr-icon-question-answer-line fr-btn--icon-left", type: "submit", id: "follow-up-button" },
        "Poser la question complémentaire",
      ),
    );
    this.section = el(
      "section",
      { id: "follow-up-section", class: "fr-mt-4w", "aria-labelledby": "follow-up-title", hidden: true },
      el("h3", { id: "follow-up-title", class: "fr-h5" }, "Question complémentaire"),
      this.form,
    );
    anchor.after(this.section);
    this.form.addEventListener("submit", (event) => this.submit(event));
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
  }

  /** Shown under a done answer only: a failed or unfinished one cannot be followed. */
  reset(record) {
    this.input.value = "";
    this.setError("");
    show(this.section, Boolean(record && record.status === "done"));
  }

  hide() {
    show(this.section, false);
  }

  setError(message) {
    this.group.classList.toggle("fr-input-group--error", Boolean(message));
    this.input.setAttribute("aria-invalid", String(Boolean(message)));
    this.error.textContent = message;
    show(this.error, Boolean(message));
  }

  submit(event) {
    event.preventDefault();
    const question = this.input.value.trim();
    if (!question) {
      this.setError("Saisissez la question complémentaire.");
      this.input.focus();
      return;
    }
    this.setError("");
    this.onAsk(question);
  }
}

/** The thread of a question that follows record: record's own thread, then record itself. */
export function threadAfter(record) {
  const earlier = Array.isArray(record?.thread) ? record.thread : [];
  return [...earlier, { id: record.id, question: record.question }].slice(-3);
}
