//! `/users/{id}/calendarView` and `/users/{id}/calendarView/delta`.

use std::collections::BTreeMap;

use chrono::Duration;
use serde_json::{Value, json};

use super::super::core::{Core, Req, Resp};
use super::super::error::GraphError;
use super::super::model::User;
use super::super::odata::{self, Prefs};
use super::super::render::RenderOpts;
use super::super::store::DeltaState;
use super::events;

/// `GET …/calendarView?startDateTime=…&endDateTime=…`.
pub fn view(core: &Core, req: &Req, user: &User) -> Result<Resp, GraphError> {
    let prefs = Prefs::from_req(req)?;
    let (start, end) = events::window(req)?;
    let expand = odata::expand_ids(req)?;
    let select = odata::select(req);
    let (top, skip) = odata::paging(req, &prefs, core.config.default_page_size)?;
    let items = core.store.lock().instances_in(&user.id, start, end);
    let opts = RenderOpts { prefs: prefs.clone(), expand: expand.as_deref(), select: select.as_deref() };
    let rendered = items.iter().map(|e| super::super::render::event(e, &opts)).collect::<Result<Vec<_>, _>>()?;
    let context = format!("{}/v1.0/$metadata#users('{}')/calendarView", core.base_url(), user.id);
    let body = events::page(core, req, context, rendered, top, skip);
    let resp = Resp::json(200, body);
    Ok(match prefs.applied() {
        Some(a) => resp.with_header("Preference-Applied", a),
        None => resp,
    })
}

fn sync_state_not_found() -> GraphError {
    GraphError::new(
        410,
        "SyncStateNotFound",
        "The sync state generation is not found; start a new synchronization round.",
    )
}

/// `GET …/calendarView/delta`: the first round lists the window; a delta link then yields
/// what changed, with `@removed` for what was deleted or left the window.
pub fn delta(core: &Core, req: &Req, user: &User) -> Result<Resp, GraphError> {
    for unsupported in ["$select", "$filter", "$expand", "$orderby", "$search", "$top"] {
        if req.query(unsupported).is_some() {
            return Err(GraphError::new(
                400,
                "ErrorInvalidUrlQuery",
                "The following parameters are not supported with change tracking over the 'CalendarView' resource: '$orderby, $filter, $select, $expand, $search, $top'.",
            ));
        }
    }
    let prefs = Prefs::from_req(req)?;
    let page_size = prefs.max_page_size.unwrap_or(core.config.default_page_size);
    let now = core.now();
    let lifetime = Duration::seconds(core.config.delta_token_lifetime_secs);
    let mut store = core.store.lock();
    let state = if let Some(token) = req.query("$skiptoken") {
        let state = store.delta.remove(token).ok_or_else(sync_state_not_found)?;
        if state.user_id != user.id {
            return Err(sync_state_not_found());
        }
        state
    } else if let Some(token) = req.query("$deltatoken") {
        let previous = store.delta.get(token).cloned().ok_or_else(sync_state_not_found)?;
        if previous.user_id != user.id || previous.issued + lifetime < now {
            store.delta.remove(token);
            return Err(sync_state_not_found());
        }
        let current = store.instances_in(&user.id, previous.start, previous.end);
        let mut pending: Vec<Value> = Vec::new();
        let changed: Vec<_> =
            current.iter().filter(|e| previous.seen.get(&e.id) != Some(&e.change_key)).cloned().collect();
        pending.extend(events::render_all(&changed, &prefs)?);
        let current_ids: BTreeMap<String, String> =
            current.iter().map(|e| (e.id.clone(), e.change_key.clone())).collect();
        pending.extend(previous.seen.keys().filter(|id| !current_ids.contains_key(*id)).map(|id| events::removed(id)));
        DeltaState {
            user_id: user.id.clone(),
            start: previous.start,
            end: previous.end,
            seen: current_ids,
            pending,
            issued: now,
        }
    } else {
        let (start, end) = events::window(req)?;
        let current = store.instances_in(&user.id, start, end);
        let pending = events::render_all(&current, &prefs)?;
        let seen = current.iter().map(|e| (e.id.clone(), e.change_key.clone())).collect();
        DeltaState { user_id: user.id.clone(), start, end, seen, pending, issued: now }
    };
    let mut state = state;
    let rest = if state.pending.len() > page_size { state.pending.split_off(page_size) } else { Vec::new() };
    let value = std::mem::take(&mut state.pending);
    let base = format!("{}/v1.0/users/{}/calendarView/delta", core.base_url(), user.id);
    let mut body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#Collection(event)", core.base_url()),
        "value": value,
    });
    let token = core.token(48);
    let link = if rest.is_empty() {
        store.delta.insert(token.clone(), DeltaState { pending: Vec::new(), issued: now, ..state });
        ("@odata.deltaLink", format!("{base}?$deltatoken={token}"))
    } else {
        store.delta.insert(token.clone(), DeltaState { pending: rest, ..state });
        ("@odata.nextLink", format!("{base}?$skiptoken={token}"))
    };
    if let Some(obj) = body.as_object_mut() {
        obj.insert(link.0.into(), json!(link.1));
    }
    let resp = Resp::json(200, body);
    Ok(match prefs.applied() {
        Some(a) => resp.with_header("Preference-Applied", a),
        None => resp,
    })
}
