//! `POST /$batch`: up to 20 requests, run in dependency order through the same router,
//! answered in any order; dependants of a failed request get 424. Request ids are strings
//! compared without regard to case (Graph documents them as "not case-sensitive"): two ids
//! differing only in case collide, and `dependsOn` finds its request in any case. Each answer
//! echoes the id as the client spelled it.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::super::core::{Core, Principal, Req, Resp, split_query};
use super::super::error::GraphError;
use super::super::router;

/// Most requests in one batch.
pub const MAX_REQUESTS: usize = 20;

/// Runs a batch.
pub async fn run(core: Arc<Core>, principal: Principal, outer: &Req) -> Result<Resp, GraphError> {
    router::authenticate(&core, &principal)?;
    let requests = outer
        .body
        .as_ref()
        .and_then(|b| b.get("requests"))
        .and_then(Value::as_array)
        .ok_or_else(|| GraphError::new(400, "BadRequest", "Invalid batch payload format."))?;
    if requests.len() > MAX_REQUESTS {
        return Err(GraphError::new(
            400,
            "BadRequest",
            format!("Number of batch requests exceeds the limit of {MAX_REQUESTS}."),
        ));
    }
    let mut ids = Vec::new();
    for r in requests {
        let id = r
            .get("id")
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .ok_or_else(|| GraphError::new(400, "BadRequest", "Every batch request needs an id."))?;
        if ids.iter().any(|seen: &String| seen.eq_ignore_ascii_case(&id)) {
            return Err(GraphError::new(400, "BadRequest", format!("Batch request id '{id}' is not unique.")));
        }
        ids.push(id);
    }
    // Statuses by lower-cased id, so dependsOn matches ids in any case.
    let mut statuses: HashMap<String, u16> = HashMap::new();
    let mut responses = Vec::new();
    let mut remaining: Vec<(String, &Value)> = ids.iter().cloned().zip(requests.iter()).collect();
    while !remaining.is_empty() {
        let ready = remaining.iter().position(|(_, r)| depends_on(r).iter().all(|d| statuses.contains_key(d)));
        let Some(index) = ready else {
            return Err(GraphError::new(
                400,
                "BadRequest",
                "The dependsOn graph of the batch has a cycle or an unknown id.",
            ));
        };
        let (id, request) = remaining.remove(index);
        let failed_dependency = depends_on(request).iter().any(|d| statuses.get(d).is_some_and(|s| *s >= 400));
        let resp = if failed_dependency {
            Resp::json(
                424,
                GraphError::new(
                    424,
                    "FailedDependency",
                    "The request could not be executed because a request it depends on failed.",
                )
                .body(&core.guid(), &core.guid(), &router::error_date(&core)),
            )
        } else {
            match inner_request(request) {
                Ok(req) => router::execute(core.clone(), principal.clone(), req).await,
                Err(e) => Resp::json(400, e.body(&core.guid(), &core.guid(), &router::error_date(&core))),
            }
        };
        statuses.insert(id.to_ascii_lowercase(), resp.status);
        let mut headers: Map<String, Value> = resp.headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        if resp.body.is_some() {
            headers.insert("Content-Type".into(), json!(content_type(resp.status)));
        }
        let mut item = json!({"id": id, "status": resp.status, "headers": headers});
        if let (Some(body), Some(obj)) = (resp.body, item.as_object_mut()) {
            obj.insert("body".into(), body);
        }
        responses.push(item);
    }
    if core.config.shuffle_batch_responses {
        core.shuffle(&mut responses);
    }
    Ok(Resp::json(200, json!({"responses": responses})))
}

/// The `Content-Type` an item's answer carries, as in Graph's documented batch responses:
/// OData JSON for results, plain JSON for error envelopes.
fn content_type(status: u16) -> &'static str {
    if status < 400 {
        "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
    } else {
        "application/json"
    }
}

/// The ids a request depends on, lower-cased (ids are not case-sensitive).
fn depends_on(request: &Value) -> Vec<String> {
    request
        .get("dependsOn")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|d| d.as_str().map(str::to_ascii_lowercase)).collect())
        .unwrap_or_default()
}

fn inner_request(request: &Value) -> Result<Req, GraphError> {
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::new(400, "BadRequest", "A batch request needs a method."))?;
    let url = request
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::new(400, "BadRequest", "A batch request needs a url."))?;
    if url.starts_with("http://") || url.starts_with("https://") {
        return Err(GraphError::new(400, "BadRequest", "Batch request urls must be relative."));
    }
    let relative = url.trim_start_matches("/v1.0");
    let (path, query) = split_query(&format!("/{}", relative.trim_start_matches('/')));
    if path.trim_matches('/').eq_ignore_ascii_case("$batch") {
        return Err(GraphError::new(400, "BadRequest", "Batch requests cannot be nested."));
    }
    let headers: Vec<(String, String)> = request
        .get("headers")
        .and_then(Value::as_object)
        .map(|h| h.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or_default().to_owned())).collect())
        .unwrap_or_default();
    let body = request.get("body").cloned();
    if body.is_some() && !headers.iter().any(|(k, _)| k == "content-type") {
        return Err(GraphError::new(
            400,
            "BadRequest",
            "Content-Type header is required for a batch request with a body.",
        ));
    }
    Ok(Req { method: method.to_ascii_uppercase(), path, query, headers, body })
}
