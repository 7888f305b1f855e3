//! Sending email: building messages, the SMTP and Microsoft Graph transports, and the
//! outbox worker that delivers invitations and password resets.

pub mod error;
pub mod graph;
pub mod message;
pub mod outbox;
pub mod smtp;

use std::time::Duration;

use lettre::address::Envelope;

use crate::domain::smtp::Security;
use crate::secret::SecretBox;
use crate::store::smtp::Profile;
use error::SendError;
use graph::{GraphEndpoints, GraphSettings};
use message::{Identity, Outgoing};
use smtp::SmtpSettings;

/// What sending needs from the app: an HTTP client, where Graph is, the name relaydesk
/// greets servers with, and the bound on one whole send.
#[derive(Clone)]
pub struct Mailer {
    pub http: reqwest::Client,
    pub graph: GraphEndpoints,
    pub hello: String,
    pub send_timeout: Duration,
}

/// How a profile sends.
#[derive(Debug, Clone)]
pub enum Route {
    Smtp(SmtpSettings),
    Graph(GraphSettings),
}

/// A profile ready to send: who it sends as and how.
#[derive(Debug, Clone)]
pub struct Sender {
    pub identity: Identity,
    pub route: Route,
}

fn opened(secrets: &SecretBox, sealed: Option<&String>) -> Result<String, SendError> {
    let sealed = sealed
        .ok_or_else(|| SendError::permanent("The profile has no saved password. Edit it and enter the password."))?;
    secrets.open(sealed).map_err(|_| {
        SendError::permanent(
            "relaydesk cannot decrypt this profile's saved password (was the secret key changed?). Edit the profile and \
             enter the password again.",
        )
    })
}

impl Sender {
    /// The sender for a stored profile, with its secrets opened.
    pub fn from_profile(profile: &Profile, secrets: &SecretBox) -> Result<Sender, SendError> {
        let identity = Identity {
            from_name: profile.from_name.clone(),
            from_address: profile.from_address.clone(),
            reply_to: profile.reply_to.clone(),
            signature: profile.signature.clone(),
        };
        let route = if profile.is_graph() {
            Route::Graph(GraphSettings {
                tenant_id: profile.graph_tenant_id.clone().unwrap_or_default(),
                client_id: profile.graph_client_id.clone().unwrap_or_default(),
                client_secret: opened(secrets, profile.graph_secret_sealed.as_ref())?,
                user: profile.username.clone().unwrap_or_default(),
            })
        } else {
            let auth = if profile.auth_required {
                Some((profile.username.clone().unwrap_or_default(), opened(secrets, profile.password_sealed.as_ref())?))
            } else {
                None
            };
            Route::Smtp(SmtpSettings {
                host: profile.host.clone().unwrap_or_default(),
                port: profile.port.and_then(|p| u16::try_from(p).ok()).unwrap_or(25),
                security: Security::parse(profile.security.as_deref().unwrap_or_default()).unwrap_or_default(),
                tls_verify: profile.tls_verify,
                ca_pem: profile.ca_pem.clone(),
                auth,
            })
        };
        Ok(Sender { identity, route })
    }

    /// Sends one email, the whole exchange bounded by `mailer.send_timeout` (lettre bounds
    /// only the connect).
    pub async fn send(&self, mailer: &Mailer, mail: &Outgoing) -> Result<(), SendError> {
        let limit = mailer.send_timeout;
        match tokio::time::timeout(limit, self.send_unbounded(mailer, mail)).await {
            Ok(result) => result,
            Err(_) => Err(SendError::transient(format!(
                "{} did not finish within {} seconds. Check the host, port and security mode; a server that expects \
                 another security mode often just waits.",
                self.endpoint(),
                limit.as_secs()
            ))),
        }
    }

    /// `host:port`, or Microsoft Graph.
    pub fn endpoint(&self) -> String {
        match &self.route {
            Route::Smtp(s) => format!("{}:{}", s.host, s.port),
            Route::Graph(_) => "Microsoft Graph".to_owned(),
        }
    }

    async fn send_unbounded(&self, mailer: &Mailer, mail: &Outgoing) -> Result<(), SendError> {
        match &self.route {
            Route::Smtp(settings) => {
                let message = message::build(&self.identity, mail)?;
                let envelope: Envelope = message.envelope().clone();
                let bytes = message.formatted();
                let connect_timeout = mailer.send_timeout.min(Duration::from_secs(10));
                smtp::send(settings, &mailer.hello, connect_timeout, &envelope, &bytes).await
            }
            Route::Graph(settings) => {
                let bodies = message::with_signature(&self.identity, mail);
                graph::send(&mailer.http, &mailer.graph, settings, &self.identity, mail, bodies).await
            }
        }
    }
}
