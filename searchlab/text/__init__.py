"""Text ranking: corpora, tokens, word embeddings, BM25 candidates and a ListNet reranker.

Submodules are imported on demand (``searchlab.text.corpus``, ``.tokenize``, ``.embeddings``,
``.features``, ``.rerank``, ``.pipeline``) so that importing this package stays light.
"""
