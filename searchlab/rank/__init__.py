"""Learning to rank on query–document feature data (the ``rank`` job).

Modules: ``data`` (reading LETOR/svmlight files), ``batching`` (padded query lists),
``losses`` (ListNet, ListMLE, LambdaLoss, ApproxNDCG, pointwise MSE), ``model`` (MLP scorer and
feature scaler), ``train`` (training loop and the ``TrainedRanker`` API), ``lambdamart``
(LightGBM peer), ``metrics`` (NDCG, MAP, MRR, P@k, ERR), ``compare`` (paired significance).

Importing this package stays light: PyTorch is imported only by the modules that need it.
"""

from __future__ import annotations
