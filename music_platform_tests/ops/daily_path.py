"""The daily path below the raw listens: what one automation run carries a new day through."""

DAILY_PATH = frozenset(
    {
        "staging/staged_listens",
        "landing/landed_listens",
        "stg_landing__listens",
        "int_listening_sessions",
        "fct_listens",
        "fct_daily_user_listens",
        "fct_daily_artist_listens",
    }
)
