"""Out-of-fold evaluation: weighted metrics, the bias-corrected bootstrap estimate, ensembles, baselines."""
