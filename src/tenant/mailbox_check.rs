//! The mailbox check, called the admin test in the setup guide (`hcal tenant test`,
//! `POST /admin/v1/tenant/test`): product code that proves hcal can do in a mailbox what it
//! does in production. It obtains a
//! token, resolves the mailbox when an address was given, creates a test event, reads it back,
//! changes it (subject and an extended property, like hcal's own writes), and deletes it. The
//! report names each step and, for the first that fails, the Graph (or Entra ID) status and
//! code, what they mean and what to fix.
//!
//! Nothing personal goes into the report beyond what the administrator typed: the test event
//! has a fixed subject and body, no attendees (so nobody is invited) and no reminder, and only
//! its id, subject and change key are read back. When a step after creation fails, the event
//! is still deleted, and the report says whether that worked.

use std::future::Future;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use hcal_actors::ids::{GraphEventId, MailboxId, TenantId, UserObjectId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::graph::{GraphCallError, GraphClient};

/// Subject of the test event: fixed and non-sensitive.
pub const TEST_SUBJECT: &str = "hcal connection test";
/// Subject the patch step writes.
pub const UPDATED_SUBJECT: &str = "hcal connection test (updated)";
/// Body of the test event.
const TEST_BODY: &str = "hcal created this event to check that it can update calendars in this mailbox, and deletes it \
                         again within seconds. If it is still here, the test was interrupted: delete it.";
/// Name of the extended property the patch step sets (in the namespace of hcal's marker).
const TEST_PROPERTY_NAME: &str = "hcal.adminTest";
/// Longest mailbox identifier accepted (an e-mail address has at most 320 characters).
const MAX_MAILBOX_LEN: usize = 320;

/// The mailbox to test, as the administrator named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxRef {
    /// An object id: used as it is.
    ObjectId(UserObjectId),
    /// A user principal name (`user@domain`): resolved to the object id first.
    Principal(String),
}

impl MailboxRef {
    /// Parses an object id (GUID) or a user principal name.
    pub fn parse(input: &str) -> Result<Self, String> {
        let input = input.trim();
        if let Ok(id) = UserObjectId::parse(input) {
            return Ok(Self::ObjectId(id));
        }
        let plausible = input.len() <= MAX_MAILBOX_LEN
            && input.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
            && !input.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '\\' | '?' | '#'));
        if plausible {
            Ok(Self::Principal(input.to_owned()))
        } else {
            Err("mailbox must be a user principal name (user@example.com) or a user object id (GUID)".into())
        }
    }

    /// As the administrator typed it (trimmed).
    pub fn as_typed(&self) -> String {
        match self {
            Self::ObjectId(id) => id.to_string(),
            Self::Principal(p) => p.clone(),
        }
    }
}

/// A step of the test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Obtain an access token from Entra ID.
    Token,
    /// Resolve a user principal name to an object id (`GET /users/{upn}`, `User.Read.All`).
    Resolve,
    /// `POST /users/{id}/calendar/events`.
    Create,
    /// `GET /users/{id}/events/{id}`.
    Read,
    /// `PATCH /users/{id}/events/{id}`.
    Patch,
    /// `DELETE /users/{id}/events/{id}`.
    Delete,
}

impl Step {
    /// The wire and metric name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Resolve => "resolve",
            Self::Create => "create",
            Self::Read => "read",
            Self::Patch => "patch",
            Self::Delete => "delete",
        }
    }

    /// What the step does, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Token => "obtain an access token",
            Self::Resolve => "resolve the mailbox to its object id",
            Self::Create => "create a test event",
            Self::Read => "read the test event back",
            Self::Patch => "change the test event",
            Self::Delete => "delete the test event",
        }
    }
}

/// Who gave the failing answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Entra ID's token endpoint.
    TokenEndpoint,
    /// Microsoft Graph.
    Graph,
    /// The network between hcal and Microsoft (no usable answer).
    Network,
    /// hcal itself (a request it could not build).
    Hcal,
}

/// What a failure means, as a fixed vocabulary (also the metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// `invalid_client`: the client secret is wrong or expired.
    WrongSecret,
    /// `unauthorized_client`: the application is not consented in the tenant.
    ConsentMissing,
    /// `invalid_scope`: the scope belongs to another cloud.
    WrongCloud,
    /// Another refusal of the token endpoint.
    TokenRefused,
    /// 401 from Graph even with a fresh token.
    TokenRejected,
    /// 403 `ErrorAccessDenied` with `[RAOP]`: outside the application access policy.
    NotInAccessPolicy,
    /// 403 `ErrorAccessDenied` without `[RAOP]`: an application permission is missing.
    MissingPermission,
    /// 404 `MailboxNotEnabledForRESTAPI`: unlicensed, inactive, soft-deleted or on-premises.
    MailboxNotEnabled,
    /// No such user.
    UserNotFound,
    /// Throttled beyond the retry budget.
    Throttled,
    /// Network failures or 5xx beyond the retry budget.
    Unavailable,
    /// A success that did not say what it should have.
    UnexpectedAnswer,
    /// Anything else.
    Other,
}

impl Reason {
    /// The wire and metric name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WrongSecret => "wrong_secret",
            Self::ConsentMissing => "consent_missing",
            Self::WrongCloud => "wrong_cloud",
            Self::TokenRefused => "token_refused",
            Self::TokenRejected => "token_rejected",
            Self::NotInAccessPolicy => "not_in_access_policy",
            Self::MissingPermission => "missing_permission",
            Self::MailboxNotEnabled => "mailbox_not_enabled",
            Self::UserNotFound => "user_not_found",
            Self::Throttled => "throttled",
            Self::Unavailable => "unavailable",
            Self::UnexpectedAnswer => "unexpected_answer",
            Self::Other => "other",
        }
    }
}

/// How long one step took and whether it worked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepOutcome {
    /// The step.
    pub step: Step,
    /// Whether it succeeded.
    pub ok: bool,
    /// Duration in milliseconds.
    pub millis: u64,
}

/// The first failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// The step that failed.
    pub step: Step,
    /// Who answered.
    pub source: Source,
    /// HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// The error code: Graph's `error.code`, the token endpoint's `error`, or one of hcal's
    /// (`Throttled`, `Transient`, `InvalidResponse`, `UnexpectedContent`, `RequestFailed`).
    pub code: String,
    /// What it means.
    pub reason: Reason,
    /// What to do about it (fixed text).
    pub explanation: String,
    /// Graph's `request-id`, for Microsoft support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Seconds Graph asked to wait, when throttled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<f64>,
    /// More about transport failures (kind of failure, attempts); never a URL or data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Deleting the test event after a later step failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cleanup {
    /// Whether the test event is gone.
    pub deleted: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

/// The test's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailboxCheckReport {
    /// Every step succeeded.
    pub ok: bool,
    /// The tenant tested.
    pub tenant: TenantId,
    /// The mailbox as the administrator typed it.
    pub mailbox: String,
    /// Its object id, once known.
    pub user_id: Option<UserObjectId>,
    /// The steps run, in order.
    pub steps: Vec<StepOutcome>,
    /// The first failure.
    pub failure: Option<Failure>,
    /// Present when the test event was created and a later step failed.
    pub cleanup: Option<Cleanup>,
}

impl MailboxCheckReport {
    fn new(tenant: TenantId, mailbox: &MailboxRef) -> Self {
        Self {
            ok: false,
            tenant,
            mailbox: mailbox.as_typed(),
            user_id: None,
            steps: Vec::new(),
            failure: None,
            cleanup: None,
        }
    }

    /// `ok` or the failure's reason: a fixed vocabulary for metrics and logs.
    pub fn outcome(&self) -> &'static str {
        match &self.failure {
            None if self.ok => "ok",
            None => Reason::Other.as_str(),
            Some(f) => f.reason.as_str(),
        }
    }

    async fn step<T>(
        &mut self,
        step: Step,
        call: impl Future<Output = Result<T, GraphCallError>>,
    ) -> Result<T, Failure> {
        let started = Instant::now();
        let result = call.await;
        let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.steps.push(StepOutcome { step, ok: result.is_ok(), millis });
        result.map_err(|e| diagnose(step, &e))
    }

    /// Marks the last step as failed for a reason found in its answer.
    fn reject_last(&mut self) {
        if let Some(last) = self.steps.last_mut() {
            last.ok = false;
        }
    }

    /// A text report for terminals.
    pub fn render(&self) -> String {
        let mut out = format!("Admin test of mailbox {} in tenant {}\n", self.mailbox, self.tenant);
        for s in &self.steps {
            let user = match (s.step, self.user_id) {
                (Step::Resolve, Some(id)) if s.ok => format!("  (object id {id})"),
                _ => String::new(),
            };
            let verdict = if s.ok { "ok" } else { "FAILED" };
            out.push_str(&format!("  {:<8} {:<7} {:>6} ms{user}\n", s.step.as_str(), verdict, s.millis));
        }
        match &self.failure {
            None if self.ok => {
                out.push_str("Success: hcal can create, read, change and delete events in this mailbox.\n")
            }
            None => out.push_str("The test did not finish.\n"),
            Some(f) => {
                out.push_str(&failure_lines("Failed", f));
                match &self.cleanup {
                    Some(Cleanup { deleted: true, .. }) => out.push_str("The test event was deleted again.\n"),
                    Some(Cleanup { failure: Some(c), .. }) => {
                        out.push_str(&failure_lines("The test event could not be deleted", c));
                        out.push_str(&format!("Delete the event \"{TEST_SUBJECT}\" from the mailbox by hand.\n"));
                    }
                    _ => {}
                }
            }
        }
        out
    }
}

fn failure_lines(heading: &str, f: &Failure) -> String {
    let status = f.status.map(|s| format!("{s} ")).unwrap_or_default();
    let source = match f.source {
        Source::TokenEndpoint => "the Entra ID token endpoint",
        Source::Graph => "Microsoft Graph",
        Source::Network => "the network",
        Source::Hcal => "hcal",
    };
    let mut out = format!(
        "{heading} at step {} ({}): {source} answered {status}{} [{}]\n  {}\n",
        f.step.as_str(),
        f.step.describe(),
        f.code,
        f.reason.as_str(),
        f.explanation
    );
    if let Some(r) = &f.request_id {
        out.push_str(&format!("  request-id: {r}\n"));
    }
    if let Some(d) = &f.detail {
        out.push_str(&format!("  detail: {d}\n"));
    }
    out
}

/// What the mailbox check needs from Graph: a port, so the step logic is tested without HTTP.
#[async_trait]
pub trait CheckGraph: Send + Sync {
    /// See [`GraphClient::check_token`].
    async fn check_token(&self, tenant: &TenantId) -> Result<(), GraphCallError>;
    /// See [`GraphClient::resolve_user`].
    async fn resolve_user(&self, tenant: &TenantId, user: &str) -> Result<UserObjectId, GraphCallError>;
    /// See [`GraphClient::create_event`].
    async fn create_event(&self, mailbox: &MailboxId, event: &Value) -> Result<Value, GraphCallError>;
    /// See [`GraphClient::get_event_json`].
    async fn get_event_json(
        &self,
        mailbox: &MailboxId,
        id: &GraphEventId,
        select: &[&str],
    ) -> Result<Value, GraphCallError>;
    /// See [`GraphClient::patch_event_json`].
    async fn patch_event_json(
        &self,
        mailbox: &MailboxId,
        id: &GraphEventId,
        patch: &Value,
    ) -> Result<Value, GraphCallError>;
    /// See [`GraphClient::delete_event`].
    async fn delete_event(&self, mailbox: &MailboxId, id: &GraphEventId) -> Result<(), GraphCallError>;
}

#[async_trait]
impl CheckGraph for GraphClient {
    async fn check_token(&self, tenant: &TenantId) -> Result<(), GraphCallError> {
        GraphClient::check_token(self, tenant).await
    }
    async fn resolve_user(&self, tenant: &TenantId, user: &str) -> Result<UserObjectId, GraphCallError> {
        GraphClient::resolve_user(self, tenant, user).await
    }
    async fn create_event(&self, mailbox: &MailboxId, event: &Value) -> Result<Value, GraphCallError> {
        GraphClient::create_event(self, mailbox, event).await
    }
    async fn get_event_json(
        &self,
        mailbox: &MailboxId,
        id: &GraphEventId,
        select: &[&str],
    ) -> Result<Value, GraphCallError> {
        GraphClient::get_event_json(self, mailbox, id, select).await
    }
    async fn patch_event_json(
        &self,
        mailbox: &MailboxId,
        id: &GraphEventId,
        patch: &Value,
    ) -> Result<Value, GraphCallError> {
        GraphClient::patch_event_json(self, mailbox, id, patch).await
    }
    async fn delete_event(&self, mailbox: &MailboxId, id: &GraphEventId) -> Result<(), GraphCallError> {
        GraphClient::delete_event(self, mailbox, id).await
    }
}

/// The test event: tomorrow, a quarter of an hour, shown as free, no reminder, no attendees.
pub fn test_event(now: DateTime<Utc>) -> Value {
    let start = now + Duration::days(1);
    let end = start + Duration::minutes(15);
    let local = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:00").to_string();
    json!({
        "subject": TEST_SUBJECT,
        "body": {"contentType": "text", "content": TEST_BODY},
        "start": {"dateTime": local(start), "timeZone": "UTC"},
        "end": {"dateTime": local(end), "timeZone": "UTC"},
        "showAs": "free",
        "isReminderOn": false,
        "responseRequested": false,
    })
}

/// The extended property the patch step sets: hcal's marker namespace (GUID) with the name
/// `hcal.adminTest`, so it can never be mistaken for hcal's real marker.
pub fn test_property_id(marker_property_id: &str) -> String {
    match marker_property_id.split_once(" Name ") {
        Some((namespace, _)) => format!("{namespace} Name {TEST_PROPERTY_NAME}"),
        None => format!("String {{1a01a2e5-2d02-4c13-9262-2d08835c19d8}} Name {TEST_PROPERTY_NAME}"),
    }
}

fn unexpected(step: Step, status: u16, what: &str) -> Failure {
    Failure {
        step,
        source: Source::Graph,
        status: Some(status),
        code: "UnexpectedContent".into(),
        reason: Reason::UnexpectedAnswer,
        explanation: format!("Graph answered successfully, but {what}."),
        request_id: None,
        retry_after_secs: None,
        detail: None,
    }
}

/// Runs the test on `mailbox` in `tenant`. Never fails: every problem is in the report.
pub async fn run(
    graph: &dyn CheckGraph,
    tenant: TenantId,
    mailbox: &MailboxRef,
    marker_property_id: &str,
    now: DateTime<Utc>,
) -> MailboxCheckReport {
    let mut report = MailboxCheckReport::new(tenant, mailbox);
    if let Err(f) = report.step(Step::Token, graph.check_token(&tenant)).await {
        report.failure = Some(f);
        return report;
    }
    let user = match mailbox {
        MailboxRef::ObjectId(id) => *id,
        MailboxRef::Principal(upn) => match report.step(Step::Resolve, graph.resolve_user(&tenant, upn)).await {
            Ok(id) => id,
            Err(f) => {
                report.failure = Some(f);
                return report;
            }
        },
    };
    report.user_id = Some(user);
    let target = MailboxId { tenant, user };
    let created = match report.step(Step::Create, graph.create_event(&target, &test_event(now))).await {
        Ok(created) => created,
        Err(f) => {
            report.failure = Some(f);
            return report;
        }
    };
    let Some(event) = created.get("id").and_then(Value::as_str).map(GraphEventId::new) else {
        report.reject_last();
        report.failure = Some(unexpected(Step::Create, 201, "the created event carries no id"));
        return report;
    };
    if let Err(f) = read_and_patch(&mut report, graph, &target, &event, marker_property_id).await {
        report.failure = Some(f);
        // Clean up anyway: the event must not stay in someone's calendar.
        let cleanup = match graph.delete_event(&target, &event).await {
            Ok(()) => Cleanup { deleted: true, failure: None },
            Err(e) => Cleanup { deleted: false, failure: Some(diagnose(Step::Delete, &e)) },
        };
        report.cleanup = Some(cleanup);
        return report;
    }
    match report.step(Step::Delete, graph.delete_event(&target, &event)).await {
        Ok(()) => report.ok = true,
        Err(f) => report.failure = Some(f),
    }
    report
}

async fn read_and_patch(
    report: &mut MailboxCheckReport,
    graph: &dyn CheckGraph,
    target: &MailboxId,
    event: &GraphEventId,
    marker_property_id: &str,
) -> Result<(), Failure> {
    let read = report.step(Step::Read, graph.get_event_json(target, event, &["subject"])).await?;
    if read.get("subject").and_then(Value::as_str) != Some(TEST_SUBJECT) {
        report.reject_last();
        return Err(unexpected(Step::Read, 200, "the event read back does not have the test subject"));
    }
    let patch = json!({
        "subject": UPDATED_SUBJECT,
        "singleValueExtendedProperties": [{"id": test_property_id(marker_property_id), "value": "1"}],
    });
    let patched = report.step(Step::Patch, graph.patch_event_json(target, event, &patch)).await?;
    if patched.get("subject").and_then(Value::as_str) != Some(UPDATED_SUBJECT) {
        report.reject_last();
        return Err(unexpected(Step::Patch, 200, "the changed event does not have the new subject"));
    }
    Ok(())
}

/// Turns a failed call into the report's failure: who answered, what it means, what to do.
pub fn diagnose(step: Step, error: &GraphCallError) -> Failure {
    let base = |source, status, code: &str, reason| Failure {
        step,
        source,
        status,
        code: code.to_owned(),
        reason,
        explanation: explain(reason, step),
        request_id: None,
        retry_after_secs: None,
        detail: None,
    };
    match error {
        GraphCallError::Token { status, code } => {
            let reason = match code.as_str() {
                "invalid_client" => Reason::WrongSecret,
                "unauthorized_client" => Reason::ConsentMissing,
                "invalid_scope" => Reason::WrongCloud,
                _ => Reason::TokenRefused,
            };
            base(Source::TokenEndpoint, *status, code, reason)
        }
        GraphCallError::Refused(r) => {
            let is = |c: &str| r.code.eq_ignore_ascii_case(c);
            let reason = if is("ErrorAccessDenied") && r.access_policy {
                Reason::NotInAccessPolicy
            } else if is("ErrorAccessDenied") || (r.status == 403 && is("Authorization_RequestDenied")) {
                Reason::MissingPermission
            } else if is("MailboxNotEnabledForRESTAPI") {
                Reason::MailboxNotEnabled
            } else if is("ErrorInvalidUser")
                || (step == Step::Resolve
                    && r.status == 404
                    && (is("Request_ResourceNotFound") || is("ResourceNotFound")))
            {
                Reason::UserNotFound
            } else if r.status == 401 && is("InvalidAuthenticationToken") {
                Reason::TokenRejected
            } else {
                Reason::Other
            };
            Failure { request_id: r.request_id.clone(), ..base(Source::Graph, Some(r.status), &r.code, reason) }
        }
        GraphCallError::Throttled { retry_after_secs } => Failure {
            retry_after_secs: Some(*retry_after_secs),
            ..base(Source::Graph, None, "Throttled", Reason::Throttled)
        },
        GraphCallError::Transient(detail) => {
            Failure { detail: Some(detail.clone()), ..base(Source::Network, None, "Transient", Reason::Unavailable) }
        }
        GraphCallError::InvalidAnswer { status } => {
            base(Source::Graph, Some(*status), "InvalidResponse", Reason::UnexpectedAnswer)
        }
        GraphCallError::Other(failure) => {
            Failure { detail: Some(failure.to_string()), ..base(Source::Hcal, None, "RequestFailed", Reason::Other) }
        }
    }
}

/// What a reason means and what to do, in fixed text.
fn explain(reason: Reason, step: Step) -> String {
    let text = match reason {
        Reason::WrongSecret => {
            "Entra ID rejected hcal's client credentials (invalid_client). Check that the environment variable named by \
             [graph] client_secret_env holds the secret's Value (not its Secret ID), that the secret has not expired \
             (App registrations > Certificates & secrets) and that [graph] client_id is the application's id."
        }
        Reason::ConsentMissing => {
            "The application is not consented in this tenant (unauthorized_client). Have a Privileged Role or Global \
             Administrator grant admin consent: open the link from `hcal tenant consent-url`."
        }
        Reason::WrongCloud => {
            "Entra ID rejected the token scope (invalid_scope): the login endpoint, the Graph endpoint and the scope \
             must belong to the same cloud."
        }
        Reason::TokenRefused => {
            "Entra ID refused to issue a token for this tenant; the code says why, and hcal's log has the AADSTS number. \
             Check the tenant id and that the application is enabled in the tenant."
        }
        Reason::TokenRejected => {
            "Graph rejected hcal's access token even after a fresh one was fetched: the token endpoint and Graph are \
             probably in different clouds, or this host's clock is far off."
        }
        Reason::NotInAccessPolicy => {
            "The mailbox is outside the Exchange application access policy that limits this application \
             (ErrorAccessDenied, [RAOP]). hcal reports such users as \"not in scope\" and does not retry them. Add \
             the mailbox to the policy's mail-enabled security group (check with Test-ApplicationAccessPolicy), or \
             test a mailbox inside it. Policy changes can take an hour to apply."
        }
        Reason::MissingPermission if step == Step::Resolve => {
            "Graph denied access (no access policy named): the application lacks User.Read.All, which hcal needs to \
             resolve addresses. Add the application permission and grant admin consent again, or test with the \
             user's object id."
        }
        Reason::MissingPermission => {
            "Graph denied access without naming an access policy: the application lacks the Calendars.ReadWrite \
             application permission (or its admin consent). Add it and grant admin consent again."
        }
        Reason::MailboxNotEnabled => {
            "The mailbox cannot be used through Graph (MailboxNotEnabledForRESTAPI): it has no Exchange Online \
             licence, or is inactive, soft-deleted or hosted on premises. Assign a licence with Exchange Online or \
             test another mailbox."
        }
        Reason::UserNotFound => {
            "There is no such user in this tenant. Use the user principal name or the object id, and check the tenant."
        }
        Reason::Throttled => "Graph throttled the requests longer than hcal waits in one go; try again in a minute.",
        Reason::Unavailable => {
            "Graph could not be reached or failed (network error, timeout or 5xx) on every attempt; check \
             connectivity to Microsoft and try again."
        }
        Reason::UnexpectedAnswer => "Graph answered successfully but not with what hcal expected.",
        Reason::Other => "Graph refused the request; the status and code say why.",
    };
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use parking_lot::Mutex;

    use super::*;
    use crate::graph::GraphRefusal;

    fn tenant() -> TenantId {
        TenantId::parse("00000000-0000-0000-0000-00000000000a").unwrap()
    }

    fn user() -> UserObjectId {
        UserObjectId::parse("00000000-0000-0000-0000-0000000000b1").unwrap()
    }

    const MARKER: &str = "String {1a01a2e5-2d02-4c13-9262-2d08835c19d8} Name hcal.joinInfo";

    /// Answers each call with the next scripted result for its step; records the calls.
    #[derive(Default)]
    struct Scripted {
        answers: Mutex<VecDeque<(Step, Result<Value, GraphCallError>)>>,
        calls: Mutex<Vec<Step>>,
        patches: Mutex<Vec<Value>>,
    }

    impl Scripted {
        fn new(answers: Vec<(Step, Result<Value, GraphCallError>)>) -> Self {
            Self { answers: Mutex::new(answers.into()), ..Default::default() }
        }

        fn next(&self, step: Step) -> Result<Value, GraphCallError> {
            self.calls.lock().push(step);
            let (expected, answer) = self.answers.lock().pop_front().expect("an answer for every call");
            assert_eq!(expected, step, "calls in the scripted order");
            answer
        }
    }

    #[async_trait]
    impl CheckGraph for Scripted {
        async fn check_token(&self, _: &TenantId) -> Result<(), GraphCallError> {
            self.next(Step::Token).map(|_| ())
        }
        async fn resolve_user(&self, _: &TenantId, _: &str) -> Result<UserObjectId, GraphCallError> {
            self.next(Step::Resolve).map(|v| UserObjectId::parse(v.as_str().unwrap()).unwrap())
        }
        async fn create_event(&self, _: &MailboxId, event: &Value) -> Result<Value, GraphCallError> {
            assert_eq!(event["subject"], TEST_SUBJECT);
            assert!(event.get("attendees").is_none(), "nobody is invited");
            self.next(Step::Create)
        }
        async fn get_event_json(
            &self,
            _: &MailboxId,
            _: &GraphEventId,
            select: &[&str],
        ) -> Result<Value, GraphCallError> {
            assert_eq!(select, ["subject"]);
            self.next(Step::Read)
        }
        async fn patch_event_json(
            &self,
            _: &MailboxId,
            _: &GraphEventId,
            patch: &Value,
        ) -> Result<Value, GraphCallError> {
            self.patches.lock().push(patch.clone());
            self.next(Step::Patch)
        }
        async fn delete_event(&self, _: &MailboxId, _: &GraphEventId) -> Result<(), GraphCallError> {
            self.next(Step::Delete).map(|_| ())
        }
    }

    fn refused(status: u16, code: &str, access_policy: bool) -> GraphCallError {
        GraphCallError::Refused(GraphRefusal {
            status,
            code: code.into(),
            access_policy,
            request_id: Some("rid".into()),
        })
    }

    fn happy() -> Vec<(Step, Result<Value, GraphCallError>)> {
        vec![
            (Step::Token, Ok(Value::Null)),
            (Step::Create, Ok(json!({"id": "AAMk=", "subject": TEST_SUBJECT}))),
            (Step::Read, Ok(json!({"id": "AAMk=", "subject": TEST_SUBJECT}))),
            (Step::Patch, Ok(json!({"id": "AAMk=", "subject": UPDATED_SUBJECT}))),
            (Step::Delete, Ok(Value::Null)),
        ]
    }

    async fn run_with(graph: &Scripted, mailbox: &str) -> MailboxCheckReport {
        run(graph, tenant(), &MailboxRef::parse(mailbox).unwrap(), MARKER, Utc::now()).await
    }

    #[tokio::test]
    async fn given_a_healthy_mailbox_when_tested_then_every_step_passes() {
        let graph = Scripted::new(happy());
        let report = run_with(&graph, &user().to_string()).await;
        assert!(report.ok, "{report:#?}");
        assert_eq!(report.outcome(), "ok");
        assert_eq!(report.user_id, Some(user()));
        let steps: Vec<Step> = report.steps.iter().filter(|s| s.ok).map(|s| s.step).collect();
        assert_eq!(steps, [Step::Token, Step::Create, Step::Read, Step::Patch, Step::Delete], "no resolve for an id");
        let patch = &graph.patches.lock()[0];
        assert_eq!(patch["singleValueExtendedProperties"][0]["id"], test_property_id(MARKER));
        assert!(report.render().contains("Success"));
    }

    #[tokio::test]
    async fn given_an_address_when_tested_then_it_is_resolved_first() {
        let mut script = happy();
        script.insert(1, (Step::Resolve, Ok(json!(user().to_string()))));
        let graph = Scripted::new(script);
        let report = run_with(&graph, " alex@contoso.example ").await;
        assert!(report.ok);
        assert_eq!((report.mailbox.as_str(), report.user_id), ("alex@contoso.example", Some(user())));
    }

    #[tokio::test]
    async fn given_a_wrong_secret_when_tested_then_the_token_step_fails_and_nothing_else_runs() {
        let graph = Scripted::new(vec![(
            Step::Token,
            Err(GraphCallError::Token { status: Some(401), code: "invalid_client".into() }),
        )]);
        let report = run_with(&graph, "alex@contoso.example").await;
        let f = report.failure.clone().unwrap();
        assert_eq!(
            (f.step, f.source, f.status, f.code.as_str()),
            (Step::Token, Source::TokenEndpoint, Some(401), "invalid_client")
        );
        assert_eq!(f.reason, Reason::WrongSecret);
        assert_eq!(*graph.calls.lock(), [Step::Token]);
        assert!(report.render().contains("Failed at step token"), "{}", report.render());
    }

    #[tokio::test]
    async fn given_a_refused_patch_when_tested_then_the_event_is_still_deleted() {
        let graph = Scripted::new(vec![
            (Step::Token, Ok(Value::Null)),
            (Step::Create, Ok(json!({"id": "AAMk="}))),
            (Step::Read, Ok(json!({"subject": TEST_SUBJECT}))),
            (Step::Patch, Err(refused(403, "ErrorAccessDenied", false))),
            (Step::Delete, Ok(Value::Null)),
        ]);
        let report = run_with(&graph, &user().to_string()).await;
        let f = report.failure.clone().unwrap();
        assert_eq!((f.step, f.status, f.reason), (Step::Patch, Some(403), Reason::MissingPermission));
        assert_eq!(f.request_id.as_deref(), Some("rid"));
        assert_eq!(report.cleanup, Some(Cleanup { deleted: true, failure: None }));
        assert_eq!(graph.calls.lock().last(), Some(&Step::Delete));
    }

    #[tokio::test]
    async fn given_a_read_back_without_the_subject_when_tested_then_read_fails_and_cleanup_reports_its_own_failure() {
        let graph = Scripted::new(vec![
            (Step::Token, Ok(Value::Null)),
            (Step::Create, Ok(json!({"id": "AAMk="}))),
            (Step::Read, Ok(json!({"subject": "something else"}))),
            (Step::Delete, Err(GraphCallError::Transient("timed out (after 6 attempts)".into()))),
        ]);
        let report = run_with(&graph, &user().to_string()).await;
        let f = report.failure.clone().unwrap();
        assert_eq!((f.step, f.reason, f.code.as_str()), (Step::Read, Reason::UnexpectedAnswer, "UnexpectedContent"));
        assert!(!report.steps.last().unwrap().ok);
        let cleanup = report.cleanup.clone().unwrap();
        assert!(!cleanup.deleted);
        assert_eq!(cleanup.failure.unwrap().reason, Reason::Unavailable);
        assert!(report.render().contains("by hand"));
        assert!(!serde_json::to_string(&report).unwrap().contains("something else"), "read data stays out");
    }

    #[test]
    fn failures_are_diagnosed_by_status_code_and_marker() {
        let d = |step, e: GraphCallError| diagnose(step, &e).reason;
        assert_eq!(d(Step::Create, refused(403, "ErrorAccessDenied", true)), Reason::NotInAccessPolicy);
        assert_eq!(d(Step::Create, refused(403, "ErrorAccessDenied", false)), Reason::MissingPermission);
        assert_eq!(d(Step::Resolve, refused(403, "Authorization_RequestDenied", false)), Reason::MissingPermission);
        assert_eq!(d(Step::Create, refused(404, "MailboxNotEnabledForRESTAPI", false)), Reason::MailboxNotEnabled);
        assert_eq!(d(Step::Resolve, refused(404, "Request_ResourceNotFound", false)), Reason::UserNotFound);
        assert_eq!(d(Step::Read, refused(404, "ResourceNotFound", false)), Reason::Other);
        assert_eq!(d(Step::Create, refused(401, "InvalidAuthenticationToken", false)), Reason::TokenRejected);
        let token = |code: &str| GraphCallError::Token { status: Some(400), code: code.into() };
        assert_eq!(d(Step::Token, token("unauthorized_client")), Reason::ConsentMissing);
        assert_eq!(d(Step::Token, token("invalid_scope")), Reason::WrongCloud);
        assert_eq!(d(Step::Token, token("invalid_request")), Reason::TokenRefused);
        let throttled = diagnose(Step::Create, &GraphCallError::Throttled { retry_after_secs: 2.5 });
        assert_eq!((throttled.reason, throttled.retry_after_secs), (Reason::Throttled, Some(2.5)));
        let resolve = diagnose(Step::Resolve, &refused(403, "ErrorAccessDenied", false));
        assert!(resolve.explanation.contains("User.Read.All"));
        let create = diagnose(Step::Create, &refused(403, "ErrorAccessDenied", false));
        assert!(create.explanation.contains("Calendars.ReadWrite"));
    }

    #[test]
    fn mailboxes_are_ids_or_principal_names() {
        assert_eq!(MailboxRef::parse(&user().to_string()), Ok(MailboxRef::ObjectId(user())));
        assert_eq!(MailboxRef::parse("a@b.example"), Ok(MailboxRef::Principal("a@b.example".into())));
        for bad in ["", "alex", "@contoso.example", "a b@c.example", "a@b.example/../x", "a@localhost"] {
            assert!(MailboxRef::parse(bad).is_err(), "{bad}");
        }
        assert!(MailboxRef::parse(&format!("{}@c.example", "a".repeat(320))).is_err());
    }

    #[test]
    fn the_test_event_is_harmless_and_the_property_is_not_the_marker() {
        let now = DateTime::parse_from_rfc3339("2025-03-01T12:34:56Z").unwrap().with_timezone(&Utc);
        let ev = test_event(now);
        assert_eq!(ev["start"]["dateTime"], "2025-03-02T12:34:00");
        assert_eq!(ev["end"]["dateTime"], "2025-03-02T12:49:00");
        assert_eq!((ev["showAs"].as_str(), ev["isReminderOn"].as_bool()), (Some("free"), Some(false)));
        assert!(ev.get("attendees").is_none() && ev.get("location").is_none());
        assert_eq!(test_property_id(MARKER), "String {1a01a2e5-2d02-4c13-9262-2d08835c19d8} Name hcal.adminTest");
    }
}
