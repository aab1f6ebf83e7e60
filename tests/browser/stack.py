"""An embedded stack served over HTTP for the browser tests: sample corpus, a scripted model, uvicorn."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from guichet.access.keys import KeyRepository
from guichet.answer.prompt import NOT_COVERED
from guichet.answer.worker import answer_consumers
from guichet.indexing.bulk_ingest import ingest_into
from guichet.ports.answer_streams.local import LocalAnswerStream
from guichet.ports.brokers.memory import MemoryBroker
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.ports.llm import ChatMessage
from guichet.process.serve import sample_corpus_dir
from guichet.settings import Settings
from guichet.testing.fake_embedder import HashingEmbedder
from guichet.testing.helpers import free_port, wait_for
from guichet.testing.scripted_llm import ScriptedChatModel
from guichet.wiring import Stack

HOSTILE_MARKUP = '<img src=x onerror="window.__xss=1;alert(1)">'
TRAP_WORD = "zorglubine"
# A fiche whose title and text carry markup (escaped in the XML: it is text, as in a hostile document).
TRAP_FICHE = f"""<?xml version="1.0" encoding="UTF-8"?>
<Publication xmlns:dc="http://purl.org/dc/elements/1.1/" ID="F99999" type="Fiche d'information"
  spUrl="https://www.service-public.gouv.fr/particuliers/vosdroits/F99999">
  <dc:title>Allocation {TRAP_WORD} &lt;img src=x onerror="window.__xss=2"&gt;</dc:title>
  <dc:description>La {TRAP_WORD} se demande en mairie.</dc:description>
  <Audience>Particuliers</Audience>
  <Texte><Chapitre><Titre><Paragraphe>Démarche</Paragraphe></Titre>
    <Paragraphe>La {TRAP_WORD} se demande en mairie &lt;script&gt;window.__xss=3&lt;/script&gt; sur
    rendez-vous, avec un justificatif de domicile.</Paragraphe>
  </Chapitre></Texte>
</Publication>
"""
# Several sentences: the streaming guard releases whole sentences, so the draft grows in steps.
ANSWER = (
    "Pour renouveler une carte d'identité périmée, il faut faire une demande en mairie [1]. "
    "La demande peut être préparée en ligne avant le rendez-vous [1]. "
    "Il faut fournir une photo d'identité récente et conforme aux normes [1]. "
    "Un justificatif de domicile de moins d'un an est aussi demandé [1]. "
    "Le délai de fabrication dépend de la période de l'année [1]. "
    "La carte est remise en main propre à la mairie du dépôt [1]."
)
HOSTILE_ANSWER = f"La {TRAP_WORD} se demande en mairie {HOSTILE_MARKUP} sur rendez-vous [1]."
INVENTED_PHONE = "01 99 98 97 96"
# Lists, a table and a link, as the page must render them (issue 18); the URL is the sample's own.
STRUCTURED_ANSWER = (
    "Il faut fournir :\n- une photo d'identité récente [1]\n- un justificatif de domicile [1]\n\n"
    "| Titulaire | Durée de validité |\n| --- | --- |\n| Majeur | 15 ans | [1]\n\n"
    "Achetez le timbre sur [le site des timbres fiscaux](https://timbres.impots.gouv.fr) [1]."
)
# Keywords of the question → what the scripted model answers.
REPLIES = {
    "billet d'avion": NOT_COVERED,  # a refusal: nothing cited (first: extracts may hold other keywords)
    TRAP_WORD: HOSTILE_ANSWER,
    "téléphone": f"Appelez le {INVENTED_PHONE} pour prendre rendez-vous en mairie [1].",
    "sans source": "Faites la demande en mairie, sans citer de fiche.",  # → replaced by extracts
    "tableau": STRUCTURED_ANSWER,
}


def reply(messages: Sequence[ChatMessage]) -> str:
    question = messages[-1].content
    return next((text for word, text in REPLIES.items() if word in question), ANSWER)


@dataclass
class Served:
    url: str
    stack: Stack
    model: ScriptedChatModel
    key: str  # an advisor's API key for the site "site-test"


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # not the main thread: no signal handlers


@contextmanager
def served_stack(data_dir: Path, *, delay: float = 0.02) -> Iterator[Served]:
    """The functions and the answer worker of `guichet serve`, in threads of this process."""
    # Access control on, as in production: the page must send the site's key (docs/decisions/0014).
    settings = Settings(data_dir=data_dir, stream_heartbeat=0.5, llm_retries=0, auth="keys")
    embedder = HashingEmbedder()
    index = EmbeddedIndex(settings.index_path, dimension=embedder.dimension)
    broker = MemoryBroker(settings.broker_path, retry_backoff=0.01)
    model = ScriptedChatModel(reply, delta_chars=4, delay=delay)
    stream = LocalAnswerStream(data_dir / "answer-events.sqlite3")
    stack = Stack(
        settings, broker=broker, embedder=embedder, index=index, answer_stream=stream, chat_model=model
    )
    trap = data_dir / "trap" / "F99999.xml"
    trap.parent.mkdir(parents=True)
    trap.write_text(TRAP_FICHE, encoding="utf-8")
    quiet = Stack(settings, embedder=embedder, index=index, announce_writes=False)
    ingest_into(quiet, [sample_corpus_dir(), trap.parent], prefix="exemples", progress=False)
    _, key = KeyRepository(stack.answers.store).create("site-test", "advisor", "tests du navigateur")
    stop = threading.Event()
    consumers = answer_consumers(stack, stop, concurrency=2)
    from guichet.api.app import create_app

    port = free_port()
    server = _Server(uvicorn.Config(create_app(stack), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="browser-test-http", daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, timeout=30)
        yield Served(f"http://127.0.0.1:{port}", stack, model, key)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        stop.set()
        for consumer in consumers:
            consumer.join(timeout=20)
        quiet.close()
        stack.close()
        stream.close()
        index.close()
        broker.close()
