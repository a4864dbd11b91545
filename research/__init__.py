"""Studies behind the platform's choices, run by `bench/` and checked by the tests, never by the
platform: the HetRec 2011 readers, the blend's components and its tuning, and the blend chosen."""
