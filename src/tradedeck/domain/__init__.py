"""Pure models and rules: no I/O, nothing of ours imported, so every face and service agrees."""
