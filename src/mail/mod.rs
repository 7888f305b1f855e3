//! Sending email: building messages, the SMTP and Microsoft Graph transports, and the
//! outbox worker that delivers invitations, password resets and guests' passcodes (by
//! email, or by SMS through an email-to-SMS gateway).

pub mod egress;
pub mod error;
pub mod graph;
pub mod message;
pub mod oauth;
pub mod outbox;
pub mod pool;
pub mod sms;
pub mod smtp;

use std::time::Duration;

use lettre::address::Envelope;

use secrecy::SecretString;

use crate::domain::alias::Aliases;
use crate::domain::smtp::{GenericSmtp, SmtpHost, Transport};
use crate::secret::SecretBox;
use crate::store::smtp::{ProfileId, Settings};
use error::SendError;
use graph::GraphEndpoints;
use message::{Identity, Outgoing};
use pool::SmtpPool;

/// What sending needs from the app: an HTTP client, where Graph is, the name relaydesk
/// greets servers with, and the bound on one whole send.
#[derive(Clone)]
pub struct Mailer {
    pub http: reqwest::Client,
    pub graph: GraphEndpoints,
    pub hello: String,
    pub send_timeout: Duration,
    /// The operator's egress settings; each organization's [`egress::Grant`] adds its toggle.
    pub egress: std::sync::Arc<egress::EgressPolicy>,
    /// OAuth access tokens for SMTP sign-in, held until shortly before they expire.
    pub oauth: std::sync::Arc<oauth::Tokens>,
}

/// What the email log shows as Microsoft Graph's reply to a message it took.
pub const GRAPH_ACCEPTED: &str = "Accepted by Microsoft Graph";

/// How a profile sends, its secrets opened.
pub type Route = Transport<SecretString>;

/// A profile ready to send: who it sends as and how.
#[derive(Debug, Clone)]
pub struct Sender {
    pub identity: Identity,
    pub route: Route,
    /// Where the organization may connect (the egress policy), checked before anything
    /// is contacted.
    pub grant: egress::Grant,
    /// The refresh token of the Google account connected to the profile, opened.
    pub refresh_token: Option<SecretString>,
}

impl Sender {
    /// The sender for a profile's stored settings, with its secrets opened, sending as the
    /// organization whose `grant` it is.
    pub fn from_profile(settings: &Settings, secrets: &SecretBox, grant: egress::Grant) -> Result<Sender, SendError> {
        let identity = Identity {
            from_name: settings.from_name.as_str().to_owned(),
            from_address: settings.from_address.as_str().to_owned(),
            reply_to: settings.reply_to.as_ref().map(|r| r.as_str().to_owned()),
            signature: settings.signature.as_ref().map(|s| s.as_str().to_owned()),
        };
        let route =
            settings.transport.clone().try_map_secrets(|sealed| secrets.open_secret(&sealed)).map_err(|_| {
                SendError::permanent(
                    "relaydesk cannot decrypt this profile's saved password (was the secret key changed?). Edit the \
                 profile and enter the password again.",
                )
            })?;
        Ok(Sender { identity, route, grant, refresh_token: None })
    }

    /// The same sender with the connected account's refresh token (sealed as stored).
    pub fn with_refresh_token(
        mut self,
        sealed: Option<&crate::secret::Sealed>,
        secrets: &SecretBox,
    ) -> Result<Sender, SendError> {
        self.refresh_token = match sealed {
            Some(sealed) => Some(secrets.open_secret(sealed).map_err(|_| {
                SendError::permanent(format!(
                    "relaydesk cannot decrypt the connected account's sign-in (was the secret key changed?). {}",
                    oauth::MSG_CONNECT_AGAIN
                ))
                .unavailable_token()
            })?),
            None => None,
        };
        Ok(self)
    }

    /// An access token for an OAuth profile (`None` for any other); `fresh` asks the
    /// provider even when one is held.
    pub async fn access_token(&self, mailer: &Mailer, fresh: bool) -> Result<Option<SecretString>, SendError> {
        let Route::Generic(GenericSmtp { auth: Some(auth), .. }) = &self.route else { return Ok(None) };
        let Some(app) = &auth.oauth else { return Ok(None) };
        let credentials =
            oauth::Credentials { app, client_secret: &auth.password, refresh_token: self.refresh_token.as_ref() };
        mailer.oauth.access_token(&mailer.http, &self.grant, &credentials, fresh).await.map(Some)
    }

    /// Runs `attempt` with the profile's access token; when the server refuses the token,
    /// once more with a new one from the provider, and a second refusal is a transient
    /// failure (the provider may not have caught up with a change of permissions yet).
    async fn with_token<T, F, Fut>(&self, mailer: &Mailer, attempt: F) -> Result<T, SendError>
    where
        F: Fn(Option<SecretString>) -> Fut,
        Fut: std::future::Future<Output = Result<T, SendError>>,
    {
        let token = self.access_token(mailer, false).await?;
        let oauth = token.is_some();
        match attempt(token).await {
            Err(e) if oauth && e.token_refused => {
                let token = self.access_token(mailer, true).await?;
                attempt(token).await.map_err(|e| {
                    if e.token_refused {
                        SendError::transient(format!(
                            "{} relaydesk asked for a new token and was refused again. Check that the app may send \
                             as this mailbox (Microsoft 365: the SMTP.SendAsApp permission and the mailbox's \
                             permission for the app's service principal; Google: the scope https://mail.google.com/).",
                            e.message
                        ))
                    } else {
                        e
                    }
                })
            }
            other => other,
        }
    }

    /// Connects, starts TLS and logs in as the profile says, then says goodbye (Generic
    /// SMTP only), within `mailer.send_timeout`.
    pub async fn check(&self, mailer: &Mailer) -> Result<smtp::Checked, SendError> {
        let Route::Generic(settings) = &self.route else {
            return Err(SendError::permanent("Only a Generic SMTP profile can be checked."));
        };
        let connect_timeout = mailer.send_timeout.min(Duration::from_secs(10));
        let checking = self.with_token(mailer, |token| async move {
            smtp::check(settings, token.as_ref(), &self.grant, &mailer.hello, connect_timeout).await
        });
        match tokio::time::timeout(mailer.send_timeout, checking).await {
            Ok(result) => result,
            Err(_) => Err(timed_out(&self.endpoint(), mailer.send_timeout)),
        }
    }

    /// The sender for a profile of `tenant`, its secrets opened and a `$alias` host
    /// replaced by the host the alias stands for now (so changing an alias moves the next
    /// message).
    pub async fn for_tenant(
        db: impl sqlx::SqliteExecutor<'_>,
        tenant: crate::store::TenantId,
        settings: &Settings,
        secrets: &SecretBox,
        grant: egress::Grant,
    ) -> Result<Sender, SendError> {
        let sender = Sender::from_profile(settings, secrets, grant)?;
        match &sender.route {
            Route::Generic(s) if crate::domain::alias::is_alias(s.host.as_str()) => {
                let aliases = crate::store::aliases::list(db, tenant).await.map_err(|_| {
                    SendError::transient("relaydesk could not read the organization's host aliases. Try again.")
                })?;
                sender.resolve_aliases(&aliases)
            }
            _ => Ok(sender),
        }
    }

    /// Replaces a `$alias` host with the host the alias stands for.
    pub fn resolve_aliases(mut self, aliases: &Aliases) -> Result<Sender, SendError> {
        if let Route::Generic(s) = &mut self.route {
            s.host = resolve_host(&s.host, aliases)?;
        }
        Ok(self)
    }

    /// Sends one email over a connection of its own, the whole exchange bounded by
    /// `mailer.send_timeout` (lettre bounds only the connect). Returns the server's final
    /// reply (`250 2.0.0 Ok: queued as …`).
    pub async fn send(&self, mailer: &Mailer, mail: &Outgoing) -> Result<String, SendError> {
        self.bounded(mailer, mail, None).await
    }

    /// Sends one email, over a connection the pool keeps for the profile (Generic SMTP;
    /// MS Graph sends as `send` does). Bounded the same way, from waiting for a connection
    /// to the server's last reply.
    pub async fn send_pooled(&self, mailer: &Mailer, mail: &Outgoing, pooled: Pooled<'_>) -> Result<String, SendError> {
        self.bounded(mailer, mail, Some(pooled)).await
    }

    async fn bounded(&self, mailer: &Mailer, mail: &Outgoing, reuse: Option<Pooled<'_>>) -> Result<String, SendError> {
        let limit = mailer.send_timeout;
        match tokio::time::timeout(limit, self.send_unbounded(mailer, mail, reuse)).await {
            Ok(result) => result,
            Err(_) => Err(timed_out(&self.endpoint(), limit)),
        }
    }

    /// `host:port`, or Microsoft Graph.
    pub fn endpoint(&self) -> String {
        match &self.route {
            Route::Generic(s) => format!("{}:{}", s.host, s.port),
            Route::Graph(_) => "Microsoft Graph".to_owned(),
        }
    }

    async fn send_unbounded(
        &self,
        mailer: &Mailer,
        mail: &Outgoing,
        reuse: Option<Pooled<'_>>,
    ) -> Result<String, SendError> {
        match &self.route {
            Route::Generic(settings) => {
                let message = message::build(&self.identity, mail)?;
                let envelope: Envelope = message.envelope().clone();
                let bytes = message.formatted();
                let connect_timeout = mailer.send_timeout.min(Duration::from_secs(10));
                // The next message's envelope: the same sender, its recipient.
                let next = reuse
                    .as_ref()
                    .and_then(|r| r.next_to)
                    .and_then(|to| Envelope::new(envelope.from().cloned(), vec![to.parse().ok()?]).ok());
                let (envelope, bytes, next) = (&envelope, &bytes[..], next.as_ref());
                self.with_token(mailer, |token| async move {
                    match reuse {
                        Some(Pooled {
                            pool,
                            profile,
                            stored: Settings { transport: Transport::Generic(sealed), .. },
                            ..
                        }) => {
                            // Keyed by the host connected to, so a changed alias opens a new connection.
                            let sealed = &GenericSmtp { host: settings.host.clone(), ..sealed.clone() };
                            let through = pool::Through {
                                profile,
                                sealed,
                                opened: settings,
                                token: token.as_ref(),
                                grant: &self.grant,
                            };
                            pool.send(&through, &mailer.hello, connect_timeout, envelope, bytes, next).await
                        }
                        _ => {
                            smtp::send(
                                settings,
                                token.as_ref(),
                                &self.grant,
                                &mailer.hello,
                                connect_timeout,
                                envelope,
                                bytes,
                            )
                            .await
                        }
                    }
                })
                .await
            }
            Route::Graph(settings) => {
                let bodies = message::with_signature(&self.identity, mail);
                graph::send(&mailer.http, &mailer.graph, settings, &self.identity, mail, bodies).await?;
                // sendMail answers 202 with an empty body: there is no reply text to keep.
                Ok(GRAPH_ACCEPTED.to_owned())
            }
        }
    }
}

/// A pooled send: the pool, the profile and its settings as stored, and the recipient of
/// the message likely to follow through it (whose envelope may go ahead with this one).
#[derive(Clone, Copy)]
pub struct Pooled<'a> {
    pub pool: &'a SmtpPool,
    pub profile: ProfileId,
    pub stored: &'a Settings,
    pub next_to: Option<&'a str>,
}

/// The host to connect to for a host as stored: itself, or the host its `$alias` stands
/// for now. A missing alias cannot be fixed by retrying.
pub fn resolve_host(host: &SmtpHost, aliases: &Aliases) -> Result<SmtpHost, SendError> {
    let resolved = aliases.resolve(host.as_str()).map_err(|missing| {
        SendError::permanent(format!("{missing} Add it under Settings, Host aliases, or change the host."))
    })?;
    SmtpHost::parse(&resolved)
        .map_err(|_| SendError::permanent(format!("The alias {host} does not stand for a valid host. Edit the alias.")))
}

/// The error of a send that did not finish within `limit`.
pub fn timed_out(endpoint: &str, limit: Duration) -> SendError {
    SendError::transient(format!(
        "{endpoint} did not finish within {}. Check the host, port and security mode; a server that expects another \
         security mode often just waits.",
        crate::words::duration(limit)
    ))
}
