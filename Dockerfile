# The platform's image: code server, webserver and daemon all run from it (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    DAGSTER_HOME=/opt/dagster/home \
    MUSIC_PLATFORM_HOME=/opt/dagster/data \
    PATH="/opt/music_platform/.venv/bin:$PATH"

RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /opt/music_platform

# Dependencies first, from the lock file, so code changes do not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

COPY music_platform ./music_platform
COPY dbt_project ./dbt_project
COPY workspace.yaml ./
RUN uv sync --frozen --no-dev
COPY deploy/dagster.yaml /opt/dagster/home/dagster.yaml

# Parse dbt once at build time so no container pays for it at start-up.
RUN music-platform prepare

# Run as an unprivileged user; it owns Dagster's home, the data volume and dbt's target folder.
RUN useradd --create-home --uid 1000 dagster \
    && mkdir -p "$DAGSTER_HOME" "$MUSIC_PLATFORM_HOME" \
    && chown -R dagster:dagster /opt/dagster /opt/music_platform/dbt_project
USER dagster

EXPOSE 3000 4000
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", \
     "-m", "music_platform.definitions", "--location-name", "music_platform"]
