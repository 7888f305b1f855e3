//! SMTP connections kept open between the outbox's sends, per profile, so a tenant who
//! invites 500 people does not pay 500 TLS handshakes and logins in a row.
//!
//! A connection carries up to `per_connection` messages, then is closed with QUIT; one
//! unused for `idle_for` is closed by [`SmtpPool::close_idle`]; one that failed is never
//! reused. No more than `max_idle` wait at once, over all profiles: past that the one
//! unused longest is closed, so a thousand organizations sending a message each do not
//! hold a thousand connections (and their servers' connection slots) open.
//!
//! A connection is reused only for the profile it was opened for and only while that
//! profile's server settings and sealed secret are exactly what they were: after any edit
//! (a new password is sealed anew) the next message opens a new connection; with OAuth,
//! also after the access token was replaced (a new token needs a new AUTH). A reused
//! connection the server closed while idle is noticed at MAIL FROM (no reply at all), and
//! the message goes at once over a new one. A connection whose next message's envelope
//! went ahead with the last content (PIPELINING) is kept only for a message with that
//! envelope, and closed without QUIT; if the server dropped it meanwhile, that message
//! fails at its content and is tried again on the retry schedule.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::address::Envelope;

use super::error::SendError;
use super::smtp::{self, Connection, SmtpSettings};
use crate::domain::smtp::GenericSmtp;
use crate::secret::Sealed;
use crate::store::smtp::ProfileId;

/// An open connection, waiting for the profile's next message.
struct Idle {
    /// The profile's settings it was opened with, secret sealed as stored.
    settings: GenericSmtp<Sealed>,
    /// Whether the organization had private networks when it was opened: a connection is
    /// not reused once the operator has taken them away (the egress policy).
    private_networks: bool,
    /// A digest of the OAuth access token it signed in with.
    token: Option<String>,
    conn: Connection,
    /// Messages it has carried.
    sent: usize,
    since: Instant,
}

/// Open connections by profile.
pub struct SmtpPool {
    idle: Mutex<HashMap<ProfileId, Vec<Idle>>>,
    per_connection: usize,
    idle_for: Duration,
    max_idle: usize,
}

/// Which profile a message goes through, and its settings as stored and opened.
pub struct Through<'a> {
    pub profile: ProfileId,
    pub sealed: &'a GenericSmtp<Sealed>,
    pub opened: &'a SmtpSettings,
    /// The OAuth access token to sign in with, for a profile that uses OAuth.
    pub token: Option<&'a secrecy::SecretString>,
    /// Where the profile's organization may connect (the egress policy).
    pub grant: &'a super::egress::Grant,
}

impl Through<'_> {
    /// The access token as a digest, to tell whether a kept connection signed in with it.
    fn token_digest(&self) -> Option<String> {
        use secrecy::ExposeSecret as _;
        use sha2::Digest as _;
        self.token
            .map(|t| sha2::Sha256::digest(t.expose_secret().as_bytes()).iter().map(|b| format!("{b:02x}")).collect())
    }
}

impl SmtpPool {
    pub fn new(per_connection: usize, idle_for: Duration, max_idle: usize) -> SmtpPool {
        SmtpPool { idle: Mutex::default(), per_connection: per_connection.max(1), idle_for, max_idle }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ProfileId, Vec<Idle>>> {
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An open connection for `through` and a message with `envelope`, if one waits: one
    /// whose last message sent this envelope's commands ahead, else the one used last
    /// that sent none (one set for another message is left for it). Connections of the
    /// profile opened with other settings, or idle too long, are closed.
    fn take(&self, through: &Through<'_>, envelope: &Envelope) -> Option<(Connection, usize)> {
        let mut found = None;
        let mut old = Vec::new();
        {
            let mut idle = self.lock();
            let list = idle.get_mut(&through.profile)?;
            let token = through.token_digest();
            let unusable = |entry: &mut Idle| {
                entry.settings != *through.sealed
                    || entry.private_networks != through.grant.private_networks()
                    || entry.token != token
                    || entry.since.elapsed() >= self.idle_for
            };
            old.extend(list.extract_if(.., unusable).map(|entry| entry.conn));
            let at = list
                .iter()
                .rposition(|entry| entry.conn.primed.as_ref() == Some(envelope))
                .or_else(|| list.iter().rposition(|entry| entry.conn.primed.is_none()));
            if let Some(at) = at {
                let entry = list.remove(at);
                found = Some((entry.conn, entry.sent));
            }
            if list.is_empty() {
                idle.remove(&through.profile);
            }
        }
        for conn in old {
            close(conn);
        }
        found
    }

    /// Keeps a connection that just carried a message, unless it has carried its share.
    fn give_back(&self, through: &Through<'_>, conn: Connection, sent: usize) {
        if sent >= self.per_connection {
            close(conn);
            return;
        }
        let entry = Idle {
            settings: through.sealed.clone(),
            private_networks: through.grant.private_networks(),
            token: through.token_digest(),
            conn,
            sent,
            since: Instant::now(),
        };
        let oldest = {
            let mut idle = self.lock();
            idle.entry(through.profile).or_default().push(entry);
            if idle.values().map(Vec::len).sum::<usize>() > self.max_idle {
                take_oldest(&mut idle)
            } else {
                None
            }
        };
        if let Some(conn) = oldest {
            close(conn);
        }
    }

    /// Sends one message through the profile, over a waiting connection when there is
    /// one; the server's final reply. `next`, the envelope of the message likely to follow
    /// through the profile, goes ahead with this one's content when the connection will
    /// be kept for it (see [`smtp::transaction`]). Bounded only by the caller.
    pub async fn send(
        &self,
        through: &Through<'_>,
        hello: &str,
        connect_timeout: Duration,
        envelope: &Envelope,
        bytes: &[u8],
        next: Option<&Envelope>,
    ) -> Result<String, SendError> {
        let ahead = |sent: usize| next.filter(|_| sent + 1 < self.per_connection);
        if let Some((mut conn, sent)) = self.take(through, envelope) {
            match smtp::transaction(&mut conn, through.opened, envelope, bytes, ahead(sent)).await {
                Ok(reply) => {
                    self.give_back(through, conn, sent + 1);
                    return Ok(reply);
                }
                // Closed by the server while idle: nothing was sent; a new connection.
                Err(failure) if failure.stale => drop(conn),
                Err(failure) => {
                    close(conn);
                    return Err(failure.error);
                }
            }
        }
        let mut conn = smtp::connect(through.opened, through.token, through.grant, hello, connect_timeout).await?;
        match smtp::transaction(&mut conn, through.opened, envelope, bytes, ahead(0)).await {
            Ok(reply) => {
                self.give_back(through, conn, 1);
                Ok(reply)
            }
            Err(failure) => {
                close(conn);
                Err(failure.error)
            }
        }
    }

    /// Closes every connection unused for `idle_for` or longer.
    pub fn close_idle(&self) {
        let mut old = Vec::new();
        {
            let mut idle = self.lock();
            idle.retain(|_, list| {
                let (keep, stale): (Vec<Idle>, Vec<Idle>) =
                    list.drain(..).partition(|entry| entry.since.elapsed() < self.idle_for);
                old.extend(stale.into_iter().map(|entry| entry.conn));
                *list = keep;
                !list.is_empty()
            });
        }
        for conn in old {
            close(conn);
        }
    }

    /// Connections waiting now.
    pub fn idle_count(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }
}

/// Removes the connection unused longest.
fn take_oldest(idle: &mut HashMap<ProfileId, Vec<Idle>>) -> Option<Connection> {
    let (profile, at) = idle
        .iter()
        .flat_map(|(profile, list)| list.iter().enumerate().map(move |(at, entry)| (*profile, at, entry.since)))
        .min_by_key(|(_, _, since)| *since)
        .map(|(profile, at, _)| (profile, at))?;
    let list = idle.get_mut(&profile)?;
    let entry = list.remove(at);
    if list.is_empty() {
        idle.remove(&profile);
    }
    Some(entry.conn)
}

/// Says QUIT and closes, in the background and briefly: a server that does not answer
/// must not hold anything up. One whose next message's commands went ahead is only
/// closed: the server may be waiting for content, and takes QUIT for some.
fn close(mut open: Connection) {
    if open.primed.is_some() {
        return;
    }
    tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(5), open.conn.abort()).await;
    });
}
