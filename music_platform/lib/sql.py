"""SQL text helpers shared by the DuckDB code (staging and the marts' snapshot)."""


def quote_identifier(*parts: str) -> str:
    """A (schema-)qualified identifier, quoted so any name is safe."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)
