"""lexical.analyze under 8 threads at once (the answer worker's concurrency): the right stems, no errors,
and only right stems left in the cache (issue 14, defect 4)."""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import snowballstemmer

from guichet import lexical

SAMPLES = Path(lexical.__file__).parent / "samples" / "fiches"
THREADS = 8


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Threads switch every few bytecodes, as on a loaded machine: a shared stemmer's race shows."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def corpus_words() -> list[str]:
    text = " ".join(path.read_text(errors="ignore") for path in sorted(SAMPLES.rglob("*.xml")))
    words = sorted(set(re.findall(r"[a-z]{3,}", lexical.fold(text))) - lexical.STOPWORDS)
    assert len(words) > 1000, "not enough words to make threads collide"
    return words


def test_eight_threads_get_the_stems_one_thread_gets(fast_switching: None) -> None:
    words = corpus_words()
    reference = snowballstemmer.stemmer("french")  # alone, in this thread: the right stems
    expected = {word: reference.stemWord(word) for word in words}
    lexical._stem.cache_clear()
    wrong: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def stem_all(offset: int) -> None:
        start.wait()
        try:
            for word in words[offset:] + words[:offset]:  # each thread in its own order
                stem = lexical._stem(word)
                if stem != expected[word]:
                    wrong.append((word, stem))
        except Exception as exc:  # the shared stemmer raised IndexError
            errors.append(exc)

    threads = [threading.Thread(target=stem_all, args=(i * len(words) // THREADS,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert wrong == []
    # Whatever the threads left in the cache is right too.
    cached = {word: lexical._stem(word) for word in words}
    assert cached == expected
    assert lexical.analyze("Les démarches administratives") == ["demarch", "administr"]
