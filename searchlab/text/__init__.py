"""Text ranking: corpora, tokens, BM25, word embeddings and a ListNet reranker.

Layers, bottom up (each imports only those below it): ``model`` (Document, Query, Corpus),
the readers (``smart``, ``qrels``, ``jsonl``, ``warc_import``) and ``corpus`` (the folder format
and importers); ``tokenize``, ``bm25``, ``embeddings``; ``features`` (the candidate index and
feature groups); ``training`` (rows, ListNet training); ``selection`` (feature groups by inner
CV); ``rerank`` (the saved reranker, search); ``pipeline`` (cross-validated evaluation).
Submodules are imported on demand so that importing this package stays light.
"""
