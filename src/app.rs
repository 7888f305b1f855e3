//! The router with its layers, `build_app` and `serve`.

use std::sync::Arc;

use anyhow::Context;
use axum::http::{header, HeaderValue, StatusCode};
use axum::routing::get;
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::SqliteStore;

use crate::auth::session_store::QuietStore;
use crate::auth::throttle::Throttle;
use crate::clock::Clock;
use crate::config::Config;
use crate::mail::graph::GraphEndpoints;
use crate::mail::Mailer;
pub use crate::state::AppState;
use crate::web;

/// The built application: its router and the state behind it.
pub struct App {
    pub router: Router,
    pub state: AppState,
    pub sessions: Sessions,
}

/// The session store: SQLite, behind a layer that skips writes that change nothing.
pub type Sessions = QuietStore<SqliteStore>;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// `Strict-Transport-Security` when the public URL is https: a year, this host only (other
/// hosts of the domain may not serve https).
const HSTS: &str = "max-age=31536000";

/// Opens the database (migrating it), loads the secret key and assembles the router.
pub async fn build_app(config: Config) -> anyhow::Result<App> {
    build_app_with_clock(config, Clock::system()).await
}

/// `build_app` with the time read from `clock` (tests pass a manual one and move it).
pub async fn build_app_with_clock(config: Config, clock: Clock) -> anyhow::Result<App> {
    let db = crate::db::connect(&config).await?;
    let secrets = crate::secret::keyring::unlock(&config, &db, clock.now()).await?;
    let sqlite_sessions = SqliteStore::new(db.clone());
    sqlite_sessions.migrate().await.context("cannot create the session table")?;
    let sessions = QuietStore::new(sqlite_sessions, config.session_idle);
    let http = reqwest::Client::builder()
        .timeout(config.send_timeout)
        .connect_timeout(std::time::Duration::from_secs(10))
        // Only the configured Microsoft endpoints are ever asked: a redirect is not followed.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot set up the HTTP client")?;
    let mailer = Mailer {
        http,
        graph: GraphEndpoints { login: config.graph_login_url.clone(), api: config.graph_api_url.clone() },
        hello: config.public_host(),
        send_timeout: config.send_timeout,
        egress: Arc::new(config.egress.clone()),
        oauth: Arc::new(crate::mail::oauth::Tokens::new(
            crate::mail::oauth::OAuthEndpoints {
                microsoft_login: config.graph_login_url.clone(),
                google_authorize: config.google_auth_url.clone(),
                google_token: config.google_token_url.clone(),
                google_revoke: config.google_revoke_url.clone(),
            },
            clock.clone(),
        )),
    };
    let state = AppState {
        db,
        config: Arc::new(config),
        secrets,
        throttle: Arc::new(Throttle::default()),
        mailer,
        outbox_wake: Arc::new(tokio::sync::Notify::new()),
        clock,
    };
    let router = router(state.clone(), sessions.clone());
    Ok(App { router, state, sessions })
}

fn router(state: AppState, sessions: Sessions) -> Router {
    let idle = time::Duration::seconds(state.config.session_idle.as_secs() as i64);
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name("relaydesk_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.is_https())
        .with_expiry(Expiry::OnInactivity(idle))
        // Saving after every request is what moves the idle deadline forward; the store
        // writes only a change, or a deadline moved by a minute or more (QuietStore).
        .with_always_save(true);

    let pages = web::routes()
        .fallback(web::home::not_found)
        // Inside the session layer: an error page is rendered again for who is asking.
        .layer(axum::middleware::from_fn_with_state(state.clone(), web::error_page::with_navigation))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::csrf::require_token))
        .layer(session_layer)
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store")));

    let request_timeout = state.config.limits.request_timeout;
    let https = state.config.is_https();
    let router = Router::new()
        .route("/healthz", get(web::home::healthz))
        .route("/static/{*path}", get(web::home::static_file))
        .merge(pages)
        // Connection limits: a request (its body included) is answered within the request
        // timeout or gets 408; a body over the form limit is refused with 413 before it is
        // read when its length is announced, and cut off at the limit otherwise.
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, request_timeout))
        .layer(RequestBodyLimitLayer::new(crate::auth::csrf::MAX_FORM_BYTES))
        .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        // Spans name the route (`/invite/{token}`), never the URI, which can hold a token.
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::extract::Request| {
            let route = request
                .extensions()
                .get::<axum::extract::MatchedPath>()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "(no route)".to_owned());
            tracing::info_span!("request", method = %request.method(), route = %route)
        }))
        .with_state(state);
    // Served to people at an https address: browsers must never fall back to http.
    if https {
        router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        ))
    } else {
        router
    }
}

/// Binds, logs the first-run link when there is no tenant yet, and serves until Ctrl-C
/// or SIGTERM.
pub async fn serve(mut config: Config) -> anyhow::Result<()> {
    let _one_server = crate::db::claim_for_serving(&config)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (is another program using it?)", config.listen))?;
    let address = listener.local_addr()?;
    config.listen = address;
    if config.public_url_from_listen {
        config.public_url = crate::config::default_public_url(address);
    }
    let app = build_app(config).await?;
    web::setup::announce_link(&app.state).await?;

    let deletion = tokio::spawn(tower_sessions::session_store::ExpiredDeletion::continuously_delete_expired(
        app.sessions.clone(),
        tokio::time::Duration::from_secs(60),
    ));
    let shutdown = shutdown_signal()?;
    tracing::info!(%address, public_url = %app.state.config.public_url, "relaydesk is listening");
    let worker = crate::mail::outbox::spawn_worker(app.state.outbox());
    tracing::info!("outbox worker started");
    let limits = app.state.config.limits.clone();
    crate::server::serve(listener, app.router, limits, shutdown).await?;
    deletion.abort();
    // Let a send in progress finish; an unfinished one is retried after its lease.
    worker.stop(app.state.config.send_timeout).await;
    app.state.db.close().await;
    tracing::info!("relaydesk stopped");
    Ok(())
}

/// Registers for Ctrl-C and SIGTERM now (before the server says it is ready, so a
/// signal sent right after can never be missed) and resolves when one arrives.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let (mut terminate, mut interrupt) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?,
        )
    };
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    })
}
