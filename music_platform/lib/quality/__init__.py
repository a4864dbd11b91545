"""Data quality shared by every source path: screening delimited files row by row, encoding
damage in text, and load-to-load comparisons (volume, categories, distributions, conflicts)."""
