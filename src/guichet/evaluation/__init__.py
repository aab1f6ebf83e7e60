"""`guichet eval`: answer quality measured on a question set, through the real ask pipeline.

cases.py reads the question set, run.py answers each case in-process on a stack and records what the
pipeline retrieved and wrote, checks.py inspects each answer mechanically, report.py aggregates (Markdown
and JSON), compare.py diffs two reports, judge.py adds an optional LLM opinion, feedback.py turns
advisors' thumbs-down into cases to review. corpus.py and embed_cache.py prepare the index the gate runs
on (a fixed subset of the fiches, embeddings cached by text).
"""
