// The advisor's rating of an answer: thumbs up or down, reasons to tick, a comment → POST …/feedback.

import { ApiError, postJson } from "./api.js";
import { byId, el } from "./dom.js";

// The reason codes sent to the API (docs/decisions/0010-advisor-web-page.md), with their labels.
export const REASONS = [
  ["inexact", "Inexacte"],
  ["incomplet", "Incomplète"],
  ["sources_manquantes", "Sources manquantes ou inadaptées"],
  ["trop_long", "Trop longue"],
  ["hors_sujet", "Hors sujet"],
  ["lien_errone", "Lien erroné"],
];

export class FeedbackForm {
  /** onAuthError(error, retry) is called on 401/403 so that the page can ask for the site key. */
  constructor(onAuthError) {
    this.form = byId("feedback-form");
    this.status = byId("feedback-status");
    this.button = byId("feedback-button");
    this.onAuthError = onAuthError;
    this.answerId = null;
    const list = byId("reasons-list");
    for (const [code, label] of REASONS) {
      const id = `reason-${code}`;
      list.append(
        el(
          "div",
          { class: "fr-fieldset__element" },
          el(
            "div",
            { class: "fr-checkbox-group fr-checkbox-group--sm" },
            el("input", { type: "checkbox", id, name: "reasons", value: code }),
            el("label", { class: "fr-label", for: id }, label),
          ),
        ),
      );
    }
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
  }

  reset(answerId) {
    this.answerId = answerId;
    this.form.reset();
    this.setDisabled(false);
    this.status.textContent = "";
  }

  setDisabled(disabled) {
    for (const field of this.form.elements) field.disabled = disabled;
  }

  payload() {
    const rating = this.form.querySelector("input[name=rating]:checked");
    if (!rating) return null;
    const reasons = [...this.form.querySelectorAll("input[name=reasons]:checked")].map((i) => i.value);
    const comment = byId("feedback-comment").value.trim();
    const body = { rating: rating.value };
    if (reasons.length) body.reasons = reasons;
    if (comment) body.comment = comment;
    return body;
  }

  async send() {
    const body = this.payload();
    if (!body) {
      this.status.textContent = "Indiquez d'abord si la réponse vous a aidé (oui ou non).";
      byId("rating-up").focus();
      return;
    }
    this.status.textContent = "Envoi de votre avis…";
    try {
      await postJson(`/v1/answers/${encodeURIComponent(this.answerId)}/feedback`, body);
      this.status.textContent = "Merci : votre avis est enregistré.";
      this.setDisabled(true);
    } catch (error) {
      this.status.textContent = error instanceof ApiError ? error.message : "L'avis n'a pas pu être envoyé.";
      if (error instanceof ApiError && error.needsKey) {
        this.onAuthError(error, () => this.send());
      }
    }
  }
}
