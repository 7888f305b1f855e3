//! The outbox worker: claims due messages, sends each through its tenant's default
//! profile (a passcode by SMS: its first enabled SMS channel) as it is at send time, and
//! reschedules transient failures (seed 003): the 2nd attempt after 30 s, the 3rd after
//! 5 min, the 4th after 30 min, the 5th after 1 h, then every 12 h, 8 attempts in all. A
//! permanent (5xx) failure ends at once.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::error::SendError;
use super::message::Outgoing;
use super::pool::SmtpPool;
use super::Sender;
use crate::secret::SecretBox;
use crate::store::outbox::{self, Busy, Claimed, Due, Finished, NewMessage, Outcome};
use crate::store::smtp as profiles;
use crate::store::smtp::ProfileId;
use crate::store::TenantId;
use crate::words;

/// Attempts before a message is failed for good.
pub const MAX_ATTEMPTS: i64 = 8;

/// Seconds to wait after failed attempt number `attempt` (1-based).
pub fn delay_after(attempt: i64) -> i64 {
    match attempt {
        ..=1 => 30,
        2 => 5 * 60,
        3 => 30 * 60,
        4 => 60 * 60,
        _ => 12 * 60 * 60,
    }
}

/// The retry schedule as people read it, from [`delay_after`] and [`MAX_ATTEMPTS`]:
/// `after 30 seconds, 5 minutes, 30 minutes, 1 hour and then every 12 hours, 8 times in
/// all`.
pub fn retry_schedule() -> String {
    let delays: Vec<i64> = (1..MAX_ATTEMPTS).map(delay_after).collect();
    let Some(&last) = delays.last() else {
        return "never".to_owned();
    };
    // The delays before the final one starts repeating to the end.
    let steady = delays.iter().rev().take_while(|&&d| d == last).count();
    let mut steps: Vec<String> = delays.iter().map(|&d| words::seconds(d)).collect();
    let when = if steady > 1 {
        steps.truncate(delays.len() - steady);
        let every = words::every(std::time::Duration::from_secs(last.max(0).unsigned_abs()));
        if steps.is_empty() {
            every
        } else {
            format!("after {} and then {every}", steps.join(", "))
        }
    } else {
        format!("after {}", words::and_list(&steps))
    };
    format!("{when}, {MAX_ATTEMPTS} times in all")
}

/// What the sealed body holds.
#[derive(Serialize, Deserialize)]
struct Body {
    text: String,
    html: String,
}

/// The one-time link a message carries.
#[derive(Debug, Clone, Copy)]
pub enum Link {
    Invitation(i64),
    Reset(i64),
}

impl Link {
    fn kind(self) -> &'static str {
        match self {
            Link::Invitation(_) => "invitation",
            Link::Reset(_) => "password_reset",
        }
    }
}

/// Writes `mail` to the outbox in the caller's transaction, its body sealed (it carries
/// a one-time link). Wake the worker after the commit.
pub async fn enqueue(
    conn: &mut SqliteConnection,
    secrets: &SecretBox,
    tenant: TenantId,
    link: Link,
    mail: &Outgoing,
    now: i64,
) -> sqlx::Result<i64> {
    let body = serde_json::to_string(&Body { text: mail.text.clone(), html: mail.html.clone() })
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let sealed = secrets.seal(&body);
    let new = NewMessage {
        kind: link.kind(),
        recipient: &mail.to,
        subject: &mail.subject,
        body_sealed: &sealed,
        message_id: &mail.message_id,
        invitation_id: match link {
            Link::Invitation(id) => Some(id),
            Link::Reset(_) => None,
        },
        reset_id: match link {
            Link::Reset(id) => Some(id),
            Link::Invitation(_) => None,
        },
        via: "email",
        guest_id: None,
    };
    outbox::enqueue(conn, tenant, new, now).await
}

/// What the sealed body of a passcode by SMS holds: the message itself is made from the
/// SMS channel's template when it is sent.
#[derive(Serialize, Deserialize)]
struct SmsBody {
    name: String,
    passcode: String,
}

/// How a guest's passcode goes out.
pub enum Passcode<'a> {
    /// An email, already written.
    Email(&'a Outgoing),
    /// An SMS through the organization's first enabled SMS channel at send time.
    Sms { mobile: &'a crate::domain::sms::MobileNumber, name: &'a str, passcode: &'a str, subject: &'a str },
}

/// Writes a guest's passcode to the outbox in the caller's transaction (kind
/// `guest_passcode`, the same schedule as all mail), its body sealed. Wake the worker
/// after the commit.
pub async fn enqueue_passcode(
    conn: &mut SqliteConnection,
    secrets: &SecretBox,
    tenant: TenantId,
    guest: i64,
    passcode: Passcode<'_>,
    message_id: &str,
    now: i64,
) -> sqlx::Result<i64> {
    let encode = |e: serde_json::Error| sqlx::Error::Encode(Box::new(e));
    let (via, recipient, subject, body) = match passcode {
        Passcode::Email(mail) => (
            "email",
            mail.to.as_str(),
            mail.subject.as_str(),
            serde_json::to_string(&Body { text: mail.text.clone(), html: mail.html.clone() }).map_err(encode)?,
        ),
        Passcode::Sms { mobile, name, passcode, subject } => (
            "sms",
            mobile.as_str(),
            subject,
            serde_json::to_string(&SmsBody { name: name.to_owned(), passcode: passcode.to_owned() }).map_err(encode)?,
        ),
    };
    let sealed = secrets.seal(&body);
    let new = NewMessage {
        kind: "guest_passcode",
        recipient,
        subject,
        body_sealed: &sealed,
        message_id,
        invitation_id: None,
        reset_id: None,
        via,
        guest_id: Some(guest),
    };
    outbox::enqueue(conn, tenant, new, now).await
}

/// What the worker needs: the database, the key for sealed bodies and secrets, the
/// transports, its wake-up call, its lease, poll and concurrency limits, and the clock
/// that says when mail is due.
#[derive(Clone)]
pub struct Outbox {
    pub db: sqlx::SqlitePool,
    pub secrets: SecretBox,
    pub mailer: super::Mailer,
    pub wake: std::sync::Arc<tokio::sync::Notify>,
    /// How long a claim lasts before another worker may take the message over.
    pub lease: Duration,
    /// How often an idle worker looks for due mail without being woken.
    pub poll: Duration,
    /// Sends in progress at once, in all.
    pub concurrency: usize,
    /// Sends in progress at once through one profile.
    pub per_profile: usize,
    /// Messages over one SMTP connection, and how long one may wait unused.
    pub per_connection: usize,
    pub idle_connection: Duration,
    /// What "now" is for claims, leases and retry times.
    pub clock: crate::clock::Clock,
}

/// A running worker; `stop` ends it after the sends in hand.
pub struct Worker {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl Worker {
    /// Asks the worker to stop and waits up to `grace` for the sends in hand.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        let mut handle = self.handle;
        if tokio::time::timeout(grace, &mut handle).await.is_err() {
            handle.abort();
        }
    }

    /// Kills the worker and its sends at once, mid-send (for crash tests).
    pub fn abort(self) {
        self.handle.abort();
    }
}

/// Starts the worker beside the server: it claims due mail fairly across profiles into
/// send slots (`concurrency` at once in all, `per_profile` per profile), each slot a task
/// with a batch of its profile's messages (a handful together, a backlog spread over its
/// slots) sent over one connection, so a slow or stuck server holds only its own
/// profile's slots.
///
/// Claims run beside the sends, not between them: the worker keeps up to three times
/// `concurrency` claimed batches in hand beyond those sending (a claim costs a seek per
/// organization however many it takes, so it takes many), claims again when fewer than
/// `concurrency` of them can start, and starts one the moment a slot comes free: the one
/// whose profile has the fewest sends going (the oldest claimed first among equals). A profile has at most `per_profile` batches sending and as many waiting (so a
/// backlog's next batch is ready when one ends), and the pick ranks profiles by the
/// batches they have in hand, so each profile with mail has its turn and a new
/// organization's first message waits for no other's backlog. A batch that waited so
/// long that its lease would run out mid-send gives its mail back unsent (no attempt
/// used) for a later claim. Finished attempts are written by one recorder, many to a
/// transaction.
pub fn spawn_worker(state: Outbox) -> Worker {
    let (stop, mut stopped) = watch::channel(false);
    let handle = tokio::spawn(async move {
        // Dropping the set (the worker aborted) aborts every send in it.
        let mut sends: JoinSet<()> = JoinSet::new();
        let mut profile_of: HashMap<tokio::task::Id, ProfileId> = HashMap::new();
        // Batches in hand by profile (sending, or claimed and waiting for a slot), and
        // sending.
        let mut busy: HashMap<ProfileId, usize> = HashMap::new();
        let mut flying: HashMap<ProfileId, usize> = HashMap::new();
        let mut waiting: VecDeque<Ready> = VecDeque::new();
        // When each send of the last minute was claimed, by profile with a send rate.
        let mut started: HashMap<ProfileId, VecDeque<i64>> = HashMap::new();
        // The claim under way, and how many slots it asked for.
        let mut claiming: Option<(AbortOnDrop<sqlx::Result<Vec<Ready>>>, usize)> = None;
        // Whether something happened that may have made mail due or room to take it.
        let mut look = true;
        let pool = Arc::new(SmtpPool::new(state.per_connection, state.idle_connection, state.concurrency));
        let (recorder, finished) = mpsc::unbounded_channel();
        let recording = AbortOnDrop(tokio::spawn(run_recorder(state.db.clone(), finished)));
        let mut sweep = tokio::time::interval((state.idle_connection / 2).max(Duration::from_millis(100)));
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Looks for due mail this often when nothing else happens (mail due at a later
        // time, a lease run out).
        let mut poll = tokio::time::interval(state.poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if *stopped.borrow() {
                break;
            }
            while sends.len() < state.concurrency {
                let sending = |due: &Due| flying.get(&due.profile_id).copied().unwrap_or(0);
                let Some((next, _)) = waiting
                    .iter()
                    .enumerate()
                    .filter(|(_, (due, _))| sending(due) < state.per_profile)
                    .min_by_key(|(at, (due, _))| (sending(due), *at))
                else {
                    break;
                };
                let Some((due, prepared)) = waiting.remove(next) else { break };
                let profile_id = due.profile_id;
                *flying.entry(profile_id).or_default() += 1;
                let task = Batch { state: state.clone(), pool: pool.clone(), recorder: recorder.clone() };
                let stopping = stopped.clone();
                let handle = sends.spawn(async move { task.send(due, prepared, stopping).await });
                profile_of.insert(handle.id(), profile_id);
            }
            // Batches waiting only for their profile's sends to end do not count: a stuck
            // server's mail must not keep others' from being claimed.
            let ready = waiting
                .iter()
                .filter(|(due, _)| flying.get(&due.profile_id).is_none_or(|n| *n < state.per_profile))
                .count();
            let room = (CLAIM_AHEAD * state.concurrency).saturating_sub(sends.len() + ready);
            if look && claiming.is_none() && room > 0 && ready < state.concurrency {
                look = false;
                let now = state.clock.now();
                started.retain(|_, times| {
                    while times.front().is_some_and(|t| *t <= now - 60) {
                        times.pop_front();
                    }
                    !times.is_empty()
                });
                let mut in_hand: HashMap<ProfileId, Busy> = HashMap::new();
                for (profile, n) in &busy {
                    in_hand.entry(*profile).or_insert(Busy { profile: *profile, sending: 0, last_minute: 0 }).sending =
                        *n;
                }
                for (profile, times) in &started {
                    in_hand
                        .entry(*profile)
                        .or_insert(Busy { profile: *profile, sending: 0, last_minute: 0 })
                        .last_minute = times.len();
                }
                let in_hand: Vec<Busy> = in_hand.into_values().collect();
                let lease = state.lease.as_secs() as i64;
                let batch = state.per_connection.min(CLAIM_BATCH);
                // As many batches waiting per profile as may be sending.
                let (db, per_profile) = (state.db.clone(), 2 * state.per_profile);
                let claim = tokio::spawn(async move {
                    let due = outbox::claim_due(&db, lease, now, room, per_profile, batch, &in_hand).await?;
                    Ok(read_ahead(&db, due, now).await)
                });
                claiming = Some((AbortOnDrop(claim), room));
            }
            // Wait for a free slot, a claim, new mail, the poll, or the stop.
            tokio::select! {
                Some(done) = sends.join_next_with_id() => {
                    // This one and any other finished meanwhile.
                    let mut next = Some(done);
                    while let Some(done) = next {
                        let id = match done {
                            Ok((id, ())) => id,
                            Err(e) => {
                                tracing::error!(error = %e, "an outbox send ended abnormally");
                                e.id()
                            }
                        };
                        if let Some(profile) = profile_of.remove(&id) {
                            for counts in [&mut busy, &mut flying] {
                                if let Some(n) = counts.get_mut(&profile) {
                                    *n -= 1;
                                    if *n == 0 {
                                        counts.remove(&profile);
                                    }
                                }
                            }
                        }
                        next = sends.try_join_next_with_id();
                    }
                    look = true;
                }
                claimed = async { (&mut claiming.as_mut().expect("guarded").0.0).await }, if claiming.is_some() => {
                    let asked = claiming.take().map_or(0, |(_, asked)| asked);
                    match claimed {
                        Ok(Ok(due)) => {
                            // As many as asked for: more may wait.
                            look = due.len() >= asked;
                            let now = state.clock.now();
                            for (due, prepared) in due {
                                if due.rate_limited {
                                    let times = started.entry(due.profile_id).or_default();
                                    times.extend(std::iter::repeat_n(now, due.msgs.len()));
                                }
                                *busy.entry(due.profile_id).or_default() += 1;
                                waiting.push_back((due, prepared));
                            }
                        }
                        Ok(Err(e)) => {
                            tracing::error!(error = %format!("{e:#}"), "outbox worker could not claim mail; retrying")
                        }
                        Err(e) => tracing::error!(error = %e, "an outbox claim ended abnormally"),
                    }
                }
                () = state.wake.notified() => look = true,
                _ = sweep.tick() => pool.close_idle(),
                _ = poll.tick() => look = true,
                _ = stopped.changed() => {}
            }
        }
        // Mail claimed and not started is given back at once (no attempt used); then the
        // sends in hand finish (the caller bounds how long).
        if let Some((claim, _)) = claiming.take() {
            if let Ok(Ok(due)) = claim.join().await {
                waiting.extend(due);
            }
        }
        for (due, _) in waiting.drain(..) {
            let ids: Vec<i64> = due.msgs.iter().map(|m| m.id).collect();
            if let Err(e) = outbox::release(&state.db, &ids, due.lease_until).await {
                tracing::error!(error = %format!("{e:#}"), "outbox worker could not give back mail; its lease will run out");
            }
        }
        while sends.join_next().await.is_some() {}
        // Every attempt handed over is written before the worker ends.
        drop(recorder);
        let _ = recording.join().await;
    });
    Worker { stop, handle }
}

/// Claims and sends one due message, in place; false when none was due.
pub async fn process_one(state: &Outbox) -> anyhow::Result<bool> {
    let lease = state.lease.as_secs() as i64;
    let due = outbox::claim_due(&state.db, lease, state.clock.now(), 1, state.per_profile, 1, &[]).await?;
    let Some(msg) = due.into_iter().next().and_then(|d| d.msgs.into_iter().next()) else { return Ok(false) };
    record(state, &msg, None).await?;
    Ok(true)
}

/// Batches the worker may have in hand (sending, or claimed and waiting for a slot), as a
/// multiple of its concurrency.
const CLAIM_AHEAD: usize = 4;

/// Most messages one send slot claims for its profile at once (and sends over one
/// connection, one after the other); how a profile's due mail is dealt over its slots is
/// [`outbox::claim_due`]'s.
const CLAIM_BATCH: usize = 100;

/// One send slot: sends a claimed batch in order over the profile's pooled connection.
struct Batch {
    state: Outbox,
    pool: Arc<SmtpPool>,
    recorder: Recorder,
}

impl Batch {
    /// Sends the batch's messages one after the other, each handed to the recorder as it
    /// ends (which writes it while the slot goes on to other mail: the message keeps its
    /// lease until then, so no claim takes it again). When the lease would run out before
    /// another send could end and be written (the batch waited for a slot, or its server
    /// is slow), the rest of the batch is leased again. After a failure, when the worker
    /// stops, or when leasing again fails, the rest are given back unused (no attempt
    /// counted): the next claim takes them, after other tenants' mail.
    async fn send(self, due: Due, mut prepared: Prepared, stopping: watch::Receiver<bool>) {
        let Batch { state, pool, recorder } = self;
        let ids: Vec<i64> = due.msgs.iter().map(|m| m.id).collect();
        let mut msgs = due.msgs.into_iter().peekable();
        let mut rest = Vec::new();
        let mut at = 0;
        let mut lease_until = due.lease_until;
        let send_secs = state.mailer.send_timeout.as_secs() as i64;
        let lease_secs = state.lease.as_secs() as i64;
        while let Some(msg) = msgs.next() {
            // Whatever is to be read before the send is read before the lease is checked
            // (a read may wait for the database).
            let ready = prepared.refresh(&state, &msg, &ids[at..]).await;
            // The lease would run out before this send could end and be written (a
            // second to spare for the recorder): lease the rest again, or give it back.
            if ready.is_ok() && state.clock.now() + send_secs + 1 >= lease_until {
                let now = state.clock.now();
                match outbox::lease_again(&state.db, &ids[at..], lease_until, now + lease_secs).await {
                    Ok(true) => lease_until = now + lease_secs,
                    Ok(false) => {
                        rest.push(msg.id);
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), "outbox worker could not lease a batch again");
                        rest.push(msg.id);
                        break;
                    }
                }
            }
            // The next message's envelope may go with this one's content, if it is
            // likely to be sent next.
            let next = msgs.peek().filter(|_| state.clock.now() + 2 * send_secs + 1 < lease_until);
            let next = next.filter(|_| !*stopping.borrow());
            let upcoming = Upcoming { ids: &ids[at..], next };
            at += 1;
            let (profile_name, result) = match ready {
                Err(not_sent) => not_sent,
                Ok(()) => send_prepared(&state, &msg, Some(&pool), &mut prepared, upcoming).await,
            };
            let failed = result.is_err();
            // The recorder ends only after every batch (the worker waits for both).
            let _ = recorder.send(finished(msg, profile_name, result, state.clock.now()));
            if failed || *stopping.borrow() {
                break;
            }
        }
        rest.extend(msgs.map(|m| m.id));
        if let Err(e) = outbox::release(&state.db, &rest, lease_until).await {
            tracing::error!(error = %format!("{e:#}"), "outbox worker could not give back mail; its lease will run out");
        }
    }
}

async fn record(state: &Outbox, msg: &Claimed, pool: Option<&SmtpPool>) -> anyhow::Result<()> {
    let upcoming = Upcoming { ids: &[msg.id], next: None };
    let (profile_name, result) = deliver(state, msg, pool, &mut Prepared::default(), upcoming).await;
    // Read after the send, which may have taken a while.
    let finished = finished(msg.clone(), profile_name, result, state.clock.now());
    outbox::record_all(&state.db, std::slice::from_ref(&finished)).await?;
    log_finished(&finished);
    Ok(())
}

/// The attempt as the outbox records it: sent, due again (with its retry time) or failed
/// for good.
fn finished(msg: Claimed, profile_name: Option<String>, result: Result<String, SendError>, now: i64) -> Finished {
    let outcome = match result {
        Ok(reply) => Outcome::Sent { profile: profile_name.unwrap_or_default(), reply },
        Err(e) => {
            let retry_at = (!e.permanent && msg.attempts < MAX_ATTEMPTS).then(|| now + delay_after(msg.attempts));
            Outcome::Failed { profile: profile_name, error: e.message, permanent: e.permanent, retry_at }
        }
    };
    Finished { msg, outcome, at: now }
}

fn log_finished(f: &Finished) {
    let msg = &f.msg;
    match &f.outcome {
        Outcome::Sent { .. } => {
            tracing::info!(outbox_id = msg.id, kind = %msg.kind, attempt = msg.attempts, "email delivered")
        }
        Outcome::Failed { error, permanent, retry_at, .. } => tracing::warn!(
            outbox_id = msg.id, kind = %msg.kind, attempt = msg.attempts, permanent = *permanent,
            will_retry = retry_at.is_some(), error = %error, "email not delivered"
        ),
    }
}

/// Where sends hand their finished attempts.
type Recorder = mpsc::UnboundedSender<Finished>;

/// Most attempts written in one transaction.
const RECORD_BATCH: usize = 256;

/// How long the recorder lets finished attempts gather after the first before it writes
/// them. A write is four trips to SQLite's thread (begin, two statements, commit), each
/// two thread switches; sends ending a few hundred microseconds apart would otherwise be
/// written nearly one by one. Mail keeps its lease until written, so the wait costs
/// nothing but this much delay in the email log.
const RECORD_GATHER: Duration = Duration::from_millis(10);

/// Writes finished attempts as they come, all those gathered in one transaction: the
/// first waits [`RECORD_GATHER`] for others, and while one batch commits the next
/// gathers, so under load the write lock is taken once for many messages. Ends when
/// every sender is gone, once all they sent is written.
async fn run_recorder(db: sqlx::SqlitePool, mut finished: mpsc::UnboundedReceiver<Finished>) {
    let mut done = Vec::with_capacity(RECORD_BATCH);
    while finished.recv_many(&mut done, RECORD_BATCH).await > 0 {
        if done.len() < RECORD_BATCH {
            tokio::time::sleep(RECORD_GATHER).await;
            while done.len() < RECORD_BATCH {
                match finished.try_recv() {
                    Ok(f) => done.push(f),
                    Err(_) => break,
                }
            }
        }
        match outbox::record_all(&db, &done).await {
            Ok(()) => done.iter().for_each(log_finished),
            Err(e) => {
                for f in &done {
                    tracing::error!(outbox_id = f.msg.id, error = %format!("{e:#}"), "outbox worker could not record an attempt");
                }
            }
        }
        done.clear();
    }
}

/// Aborts a task when dropped (the worker's recorder and claim end with the worker, even
/// aborted).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    /// Waits for the task's end.
    async fn join(mut self) -> Result<T, tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a batch reads once and keeps for its next messages for up to
/// [`FRESH_FOR`], then reads again: the organization's email switch, where it may connect
/// and which of the batch's links still work (one read for the batch), and its default
/// profile with the sender made from it (secret opened, aliases resolved). So a batch does
/// not read the same rows and open the same secret before every message, and a change
/// (an invitation revoked, the profile, its secret or an alias it uses edited) still
/// reaches the next message within that time. A pooled connection opened with other
/// settings is never reused: the pool compares them.
#[derive(Default)]
struct Prepared {
    checks: Option<(std::time::Instant, outbox::SendChecks)>,
    /// The default profile as the claim read it ahead, for the first send's sender.
    profile: Option<(std::time::Instant, profiles::Profile)>,
    sender: Option<PreparedSender>,
}

/// A claimed batch, with what the claim read ahead for it.
type Ready = (Due, Prepared);

/// What the batches just claimed will read first, read for all of them at once by the
/// claim (two reads instead of two for each batch): their organizations' checks and
/// their default profiles. A batch whose part is missing, or that waited too long for a
/// slot, reads its own.
async fn read_ahead(db: &sqlx::SqlitePool, due: Vec<Due>, now: i64) -> Vec<Ready> {
    let email: Vec<&Due> = due.iter().filter(|d| d.msgs.first().is_some_and(|m| m.via == "email")).collect();
    let ids: Vec<Vec<i64>> = email.iter().map(|d| d.msgs.iter().map(|m| m.id).collect()).collect();
    let wanted: Vec<(crate::store::TenantId, &[i64])> =
        email.iter().zip(&ids).map(|(d, ids)| (d.msgs[0].tenant_id, ids.as_slice())).collect();
    let profile_ids: Vec<ProfileId> = email.iter().map(|d| d.profile_id).collect();
    let read = async {
        let mut conn = db.acquire().await?;
        let checks = outbox::send_checks_for(&mut *conn, &wanted, now).await?;
        let profiles = profiles::defaults_among(&mut *conn, &profile_ids).await?;
        Ok::<_, sqlx::Error>((checks, profiles))
    };
    let (checks, profiles) = match read.await {
        Ok(read) => read,
        Err(e) => {
            tracing::debug!(error = %e, "outbox claim could not read ahead; each batch reads its own");
            Default::default()
        }
    };
    let at = std::time::Instant::now();
    let mut checks = checks.into_iter();
    due.into_iter()
        .map(|due| {
            let mut prepared = Prepared::default();
            // In the order asked: the email batches', one each.
            if due.msgs.first().is_some_and(|m| m.via == "email") {
                prepared.checks = checks.next().flatten().map(|c| (at, c));
                prepared.profile = profiles.get(&due.profile_id).cloned().map(|p| (at, p));
            }
            (due, prepared)
        })
        .collect()
}

/// The default profile and the sender made from it.
struct PreparedSender {
    read_at: std::time::Instant,
    /// The egress policy's grant the sender was made with.
    private_networks: bool,
    profile: profiles::Profile,
    sender: Result<Sender, SendError>,
}

/// The batch's messages from the one being sent on (checked together), and the next one
/// (its envelope may go ahead with this one's content when it is an email whose link
/// works).
#[derive(Clone, Copy)]
struct Upcoming<'a> {
    ids: &'a [i64],
    next: Option<&'a Claimed>,
}

/// How long a batch keeps what it [`Prepared`].
const FRESH_FOR: Duration = Duration::from_secs(1);

/// A message's outcome, decided before anything was sent: the profile named, if any,
/// and why it was not sent.
type NotSent = (Option<String>, Result<String, SendError>);

impl Prepared {
    /// Reads again what is no longer fresh for `msg` (its batch's checks, for `ids`, and
    /// its organization's default profile and sender), so that nothing is left to read
    /// between a lease check and the send. Err: `msg` is not to be sent, and why.
    async fn refresh(&mut self, state: &Outbox, msg: &Claimed, ids: &[i64]) -> Result<(), NotSent> {
        if msg.via == "sms" {
            return Ok(());
        }
        let db_failed =
            |e: sqlx::Error| (None, Err(SendError::transient(format!("relaydesk could not read its database: {e}"))));
        // What is read before the send is read over one pooled connection, let go before the
        // send: sqlx checks a connection with a trip to its thread each time it goes back.
        let mut held = None;
        // Read for this message and the rest of its batch, so it covers this one while fresh.
        let known = self.checks.as_ref().is_some_and(|(at, _)| at.elapsed() < FRESH_FOR);
        if !known {
            let conn = match hold(&state.db, &mut held).await {
                Ok(conn) => conn,
                Err(e) => return Err(db_failed(e)),
            };
            self.checks = match outbox::send_checks(conn, msg.tenant_id, ids, state.clock.now()).await {
                Ok(Some(checks)) => Some((std::time::Instant::now(), checks)),
                Ok(None) => return Err((None, Err(SendError::permanent("The organization no longer exists.")))),
                Err(e) => return Err(db_failed(e)),
            };
        }
        let Some((_, check)) = self.checks.as_ref() else { unreachable!("checked just above") };
        let (email_enabled, private_networks) = (check.email_enabled, check.private_networks);
        if !check.open.contains(&msg.id) {
            return Err((
                None,
                Err(SendError::permanent(
                    "Not sent: the link in this message was replaced by a newer one, used, or expired before it went out.",
                )),
            ));
        }
        let fresh = self
            .sender
            .as_ref()
            .is_some_and(|p| p.read_at.elapsed() < FRESH_FOR && p.private_networks == private_networks);
        if !fresh || !email_enabled {
            self.sender = None;
            // Read ahead by the claim, while fresh; it counts as read then.
            let (read_at, profile) = match self.profile.take().filter(|(at, _)| at.elapsed() < FRESH_FOR) {
                Some((at, profile)) => (at, Some(profile)),
                None => {
                    let conn = match hold(&state.db, &mut held).await {
                        Ok(conn) => conn,
                        Err(e) => return Err(db_failed(e)),
                    };
                    match profiles::default_profile(&mut *conn, msg.tenant_id).await {
                        Ok(p) => (std::time::Instant::now(), p),
                        Err(e) => return Err(db_failed(e)),
                    }
                }
            };
            let Some(profile) = profile.filter(|_| email_enabled) else {
                return Err((
                    None,
                    Err(SendError::transient(
                        "Email is off or there is no default SMTP profile, so the message waits. Turn email on with a \
                         default profile, then use Retry now.",
                    )),
                ));
            };
            // Not held while the aliases are read (from the pool: two held at once by many
            // sends could take every pooled connection).
            drop(held.take());
            let grant = super::egress::Grant::new(state.mailer.egress.clone(), private_networks);
            let refresh = profile.connected.as_ref().map(|c| &c.refresh_token);
            let sender = Sender::for_tenant(&state.db, msg.tenant_id, &profile.settings, &state.secrets, grant).await;
            let sender = sender.and_then(|s| s.with_refresh_token(refresh, &state.secrets));
            self.sender = Some(PreparedSender { read_at, private_networks, profile, sender });
        }
        Ok(())
    }
}

/// Sends through the tenant's default profile as it is now, over a connection `pool`
/// keeps for it when there is a pool; names the profile used, and gives the server's
/// final reply. `upcoming` are the batch's messages from this one on, checked together.
async fn deliver(
    state: &Outbox,
    msg: &Claimed,
    pool: Option<&SmtpPool>,
    prepared: &mut Prepared,
    upcoming: Upcoming<'_>,
) -> (Option<String>, Result<String, SendError>) {
    match prepared.refresh(state, msg, upcoming.ids).await {
        Ok(()) => send_prepared(state, msg, pool, prepared, upcoming).await,
        Err(not_sent) => not_sent,
    }
}

/// [`deliver`] once `prepared` is fresh for `msg`.
async fn send_prepared(
    state: &Outbox,
    msg: &Claimed,
    pool: Option<&SmtpPool>,
    prepared: &mut Prepared,
    upcoming: Upcoming<'_>,
) -> (Option<String>, Result<String, SendError>) {
    if msg.via == "sms" {
        return deliver_sms(state, msg).await;
    }
    let Some((_, check)) = prepared.checks.as_ref() else { unreachable!("refreshed just above") };
    let next_to =
        upcoming.next.filter(|n| n.via == "email" && check.open.contains(&n.id)).map(|n| n.recipient.as_str());
    let Some(PreparedSender { profile, sender, .. }) = prepared.sender.as_mut() else {
        unreachable!("prepared just above")
    };
    let name = Some(profile.settings.name.to_string());
    let body: Body = match state.secrets.open(&msg.body_sealed).ok().and_then(|b| serde_json::from_str(&b).ok()) {
        Some(body) => body,
        None => {
            return (
                name,
                Err(SendError::permanent("relaydesk cannot decrypt this message (was the secret key changed?).")),
            )
        }
    };
    let mail = Outgoing {
        to: msg.recipient.clone(),
        subject: msg.subject.clone(),
        text: body.text,
        html: body.html,
        message_id: msg.message_id.clone(),
    };
    let result = match sender {
        Ok(sender) => match pool {
            Some(pool) => {
                let pooled = super::Pooled { pool, profile: profile.id, stored: &profile.settings, next_to };
                sender.send_pooled(&state.mailer, &mail, pooled).await
            }
            None => sender.send(&state.mailer, &mail).await,
        },
        Err(e) => Err(e.clone()),
    };
    if note_token_problem(&state.db, msg.tenant_id, profile, &result).await {
        // The problem noted or cleared is now the stored one; the next message reads it.
        prepared.sender = None;
    }
    (name, result)
}

/// The connection `held`, acquired from `db` the first time it is asked for.
async fn hold<'a>(
    db: &sqlx::SqlitePool,
    held: &'a mut Option<sqlx::pool::PoolConnection<sqlx::Sqlite>>,
) -> sqlx::Result<&'a mut sqlx::SqliteConnection> {
    let conn = match held.take() {
        Some(conn) => conn,
        None => db.acquire().await?,
    };
    Ok(&mut **held.insert(conn))
}

/// Sends a passcode by SMS through the tenant's first enabled SMS channel as it is now.
async fn deliver_sms(state: &Outbox, msg: &Claimed) -> (Option<String>, Result<String, SendError>) {
    let db_error = |e: sqlx::Error| SendError::transient(format!("relaydesk could not read its database: {e}"));
    let channel = match crate::store::sms::first_enabled(&state.db, msg.tenant_id).await {
        Ok(Some(channel)) => channel,
        Ok(None) => {
            return (
                None,
                Err(SendError::transient(
                    "No SMS channel is enabled (or the enabled one's saved settings are no longer valid), so the \
                     message waits. Enable or edit an SMS channel, then use Retry now.",
                )),
            )
        }
        Err(e) => return (None, Err(db_error(e))),
    };
    let name = Some(format!("SMS channel {}", channel.settings.name));
    let body: Option<SmsBody> = state.secrets.open(&msg.body_sealed).ok().and_then(|b| serde_json::from_str(&b).ok());
    let Some(body) = body else {
        return (
            name,
            Err(SendError::permanent("relaydesk cannot decrypt this message (was the secret key changed?).")),
        );
    };
    let Ok(mobile) = crate::domain::sms::MobileNumber::parse(&msg.recipient) else {
        return (name, Err(SendError::permanent("The recipient is not a mobile number.")));
    };
    let result = super::sms::send_passcode(
        &state.db,
        &state.secrets,
        &state.mailer,
        msg.tenant_id,
        &channel,
        &mobile,
        &body.name,
        &body.passcode,
        &msg.message_id,
    )
    .await
    .map(|(_, reply)| reply);
    (name, result)
}

/// Keeps the profile's token problem (for the dashboard) in step with a send's result:
/// noted when the provider refused to issue a token, cleared once one came again. True
/// when it wrote.
pub async fn note_token_problem(
    db: &sqlx::SqlitePool,
    tenant: crate::store::TenantId,
    profile: &profiles::Profile,
    result: &Result<String, SendError>,
) -> bool {
    let problem = match result {
        Err(e) if e.token_unavailable => Some(e.message.as_str()),
        Err(_) => return false,
        Ok(_) if profile.token_problem.is_none() => return false,
        Ok(_) => None,
    };
    if let Err(e) = profiles::record_token_problem(db, tenant, profile.id, problem).await {
        tracing::warn!(error = %e, "the profile's token problem could not be noted");
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_schedule_of_seed_003() {
        let delays: Vec<i64> = (1..MAX_ATTEMPTS).map(delay_after).collect();
        assert_eq!(delays, [30, 300, 1800, 3600, 43200, 43200, 43200]);
    }

    #[test]
    fn the_schedule_in_words() {
        assert_eq!(
            retry_schedule(),
            "after 30 seconds, 5 minutes, 30 minutes, 1 hour and then every 12 hours, 8 times in all"
        );
    }
}
