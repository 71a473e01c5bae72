"""Learning to rank on query–document feature data (the ``rank`` job).

Modules: ``data`` (reading LETOR/svmlight files), ``base`` (``TrainConfig``, ``TrainedRanker``
and the held-out validation split every trainer shares), ``batching`` (padded query lists),
``losses`` (ListNet, ListMLE, LambdaLoss, ApproxNDCG, pointwise MSE), ``model`` (MLP scorer and
feature scaler), ``train`` (the neural training loop, ``train_ranker`` and ``load_ranker`` for
every model), ``lambdamart`` (LightGBM peer), ``tune`` (K-fold CV selection on training queries),
``metrics`` (NDCG, MAP, MRR, P@k, ERR), ``compare`` (paired significance).

Importing this package stays light: PyTorch is imported only by the modules that need it.
"""

from __future__ import annotations
