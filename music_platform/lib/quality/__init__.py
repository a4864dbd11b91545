"""Data quality shared by every source path: screening delimited files row by row, per-row casts
to contract types, encoding damage in text, and load-to-load comparisons (volume, categories,
distributions, conflicts). Below `sources` and `staging`, which both use it."""
