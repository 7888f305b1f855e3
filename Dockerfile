# syntax=docker/dockerfile:1
# Build stage: compile the release binary (templates, migrations and static files are
# compiled into it).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY templates ./templates
COPY migrations ./migrations
COPY build.rs ./
COPY static ./static
# The SQL is checked at compile time against .sqlx/ (scripts/sqlx-prepare), not a database.
COPY .sqlx ./.sqlx
ENV SQLX_OFFLINE=true
RUN cargo build --release --locked && strip target/release/relaydesk

# Runtime stage: a small Debian with CA certificates (for SMTP over TLS) and curl for
# the health check, running as an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin relaydesk \
 && mkdir -p /data && chown relaydesk:relaydesk /data
COPY --from=build /src/target/release/relaydesk /usr/local/bin/relaydesk
USER relaydesk
WORKDIR /data
ENV RELAYDESK_DATABASE_URL=sqlite:///data/relaydesk.db \
    RELAYDESK_LISTEN=0.0.0.0:3000
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:3000/healthz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["relaydesk"]
CMD ["serve"]
