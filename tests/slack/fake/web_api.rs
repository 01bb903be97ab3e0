//! Web API routes of the fake: `/api/{method}` and the file upload URLs.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Form, FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use serde_json::{Map, Value, json};

use super::{APP_ID, BOT_ID, BOT_USER_ID, Shared, State as FakeState, TEAM_ID, UploadedFile};

/// Result of one Web API method: the fields to add to `{"ok":true}`, or a
/// Slack error code for `{"ok":false,"error":...}`.
type MethodResult = Result<Value, &'static str>;

/// Seconds part of the first message timestamp the fake hands out (2023-11-14).
const FIRST_TS_SECONDS: u64 = 1_700_000_000;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/{method}", any(handle_method))
        .route("/upload/{file_id}", post(handle_upload))
        .with_state(shared)
}

async fn handle_method(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    request: Request,
) -> Response {
    let token = bearer_token(request.headers());
    let params = decode_params(request).await;

    let retry_after = shared.update(|state| {
        *state.attempts.entry(method.clone()).or_default() += 1;
        let pending = state.rate_limits.get_mut(&method)?;
        (!pending.is_empty()).then(|| pending.remove(0))
    });
    if let Some(retry_after) = retry_after {
        let body = json!({ "ok": false, "error": "ratelimited" });
        let headers = [(header::RETRY_AFTER, retry_after.to_string())];
        return (StatusCode::TOO_MANY_REQUESTS, headers, axum::Json(body)).into_response();
    }

    let failure = shared.update(|state| {
        let pending = state.failures.get_mut(&method)?;
        (!pending.is_empty()).then(|| pending.remove(0))
    });
    let result = match (params, token) {
        _ if failure.is_some() => Err(failure.unwrap_or_default()),
        (Err(error), _) => Err(error),
        (Ok(_), None) => Err("not_authed"),
        (Ok(params), Some(token)) => shared.update(|state| {
            let result = call_method(state, &shared.base_url, &method, &params, &token);
            if result.is_ok() {
                state
                    .calls
                    .entry(method.clone())
                    .or_default()
                    .push(Value::Object(params));
            }
            result
        }),
    };

    let body = match result {
        Ok(Value::Object(mut fields)) => {
            fields.insert("ok".into(), Value::Bool(true));
            Value::Object(fields)
        }
        Ok(_) => json!({ "ok": true }),
        Err(error) => json!({ "ok": false, "error": error }),
    };
    axum::Json(body).into_response()
}

/// Stores a file sent to an upload URL. Slack responds to such a POST with a
/// plain-text `OK - <length>`, which slack-morphism 2.31.1 accepts as an empty response.
async fn handle_upload(
    State(shared): State<Arc<Shared>>,
    Path(file_id): Path<String>,
    content: Bytes,
) -> Response {
    let length = content.len();
    let stored = shared.update(|state| {
        let filename = state.announced_files.get(&file_id)?.clone();
        let file = UploadedFile {
            file_id,
            filename,
            content: content.to_vec(),
        };
        state.uploads.push(file);
        Some(())
    });
    match stored {
        Some(()) => (StatusCode::OK, format!("OK - {length}")).into_response(),
        None => (StatusCode::NOT_FOUND, "unknown upload URL").into_response(),
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::to_string)
}

/// Decodes the query string and the body (JSON or form-encoded) into one
/// object. Form values that hold JSON, such as `blocks`, are decoded as JSON
/// because Slack accepts them JSON-encoded inside forms.
async fn decode_params(request: Request) -> Result<Map<String, Value>, &'static str> {
    let mut params = Map::new();
    let query = Query::<Vec<(String, String)>>::try_from_uri(request.uri())
        .map_err(|_| "invalid_arguments")?;
    insert_form_fields(&mut params, query.0);

    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();

    if content_type.starts_with("application/json") {
        let body = Bytes::from_request(request, &())
            .await
            .map_err(|_| "invalid_json")?;
        if !body.is_empty() {
            let Value::Object(fields) =
                serde_json::from_slice(&body).map_err(|_| "invalid_json")?
            else {
                return Err("invalid_json");
            };
            params.extend(fields);
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let form = Form::<Vec<(String, String)>>::from_request(request, &())
            .await
            .map_err(|_| "invalid_form_data")?;
        insert_form_fields(&mut params, form.0);
    } else if !content_type.is_empty() {
        // NOTE: multipart bodies are rejected. slack-morphism 2.31.1 sends them
        // only for the retired `files.upload` method.
        return Err("invalid_form_data");
    }
    Ok(params)
}

fn insert_form_fields(params: &mut Map<String, Value>, fields: Vec<(String, String)>) {
    for (name, value) in fields {
        let looks_like_json = value.starts_with('[') || value.starts_with('{');
        let decoded = match serde_json::from_str::<Value>(&value) {
            Ok(json) if looks_like_json => json,
            _ => Value::String(value),
        };
        params.insert(name, decoded);
    }
}

/// Runs `method` against the fake's state.
fn call_method(
    state: &mut FakeState,
    base_url: &str,
    method: &str,
    params: &Map<String, Value>,
    token: &str,
) -> MethodResult {
    // `apps.connections.open` takes only an app-level token (`xapp-`), and
    // the other methods take only bot or user tokens.
    let is_app_token = token.starts_with("xapp-");
    if is_app_token != (method == "apps.connections.open") && is_known_method(method) {
        return Err("not_allowed_token_type");
    }

    match method {
        "auth.test" => Ok(json!({
            "url": "https://warroom-fake.slack.com/",
            "team": "Warroom Fake",
            "user": "warroom",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": false,
        })),
        "apps.connections.open" => {
            state.connections_opened += 1;
            let ticket = format!("fake-ticket-{}", state.connections_opened);
            state.open_tickets.push(ticket.clone());
            let socket_base_url = base_url.replacen("http://", "ws://", 1);
            Ok(json!({ "url": format!("{socket_base_url}/link/?ticket={ticket}") }))
        }
        "chat.postMessage" => post_message(state, params),
        "chat.update" => update_message(params),
        "chat.postEphemeral" => {
            required_text(params, "channel", "channel_not_found")?;
            required_text(params, "user", "user_not_found")?;
            Ok(json!({ "message_ts": next_ts(state) }))
        }
        "files.getUploadURLExternal" => {
            let filename = required_text(params, "filename", "invalid_arguments")?;
            required_text(params, "length", "invalid_arguments")?;
            state.last_file_counter += 1;
            let file_id = format!("FFAKE{:04}", state.last_file_counter);
            state
                .announced_files
                .insert(file_id.clone(), filename.to_string());
            Ok(json!({ "file_id": file_id, "upload_url": format!("{base_url}/upload/{file_id}") }))
        }
        "files.completeUploadExternal" => complete_upload(state, params),
        _ => {
            state.unknown_methods.push(method.to_string());
            Err("unknown_method")
        }
    }
}

fn is_known_method(method: &str) -> bool {
    const KNOWN_METHODS: [&str; 7] = [
        "auth.test",
        "apps.connections.open",
        "chat.postMessage",
        "chat.update",
        "chat.postEphemeral",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ];
    KNOWN_METHODS.contains(&method)
}

fn post_message(state: &mut FakeState, params: &Map<String, Value>) -> MethodResult {
    let channel = required_text(params, "channel", "channel_not_found")?;
    let has_content = ["text", "blocks", "attachments"]
        .iter()
        .any(|field| params.contains_key(*field));
    if !has_content {
        return Err("no_text");
    }

    let ts = next_ts(state);
    let mut message = bot_message(params);
    message.insert("ts".into(), json!(ts));
    if let Some(thread_ts) = params.get("thread_ts") {
        message.insert("thread_ts".into(), thread_ts.clone());
    }
    Ok(json!({ "channel": channel, "ts": ts, "message": message }))
}

fn update_message(params: &Map<String, Value>) -> MethodResult {
    let channel = required_text(params, "channel", "channel_not_found")?;
    let ts = required_text(params, "ts", "message_not_found")?;
    let text = params.get("text").cloned().unwrap_or(json!(""));
    Ok(json!({
        "channel": channel,
        "ts": ts,
        "text": text,
        "message": bot_message(params),
    }))
}

fn complete_upload(state: &FakeState, params: &Map<String, Value>) -> MethodResult {
    let requested = params
        .get("files")
        .and_then(Value::as_array)
        .filter(|files| !files.is_empty())
        .ok_or("invalid_arguments")?;

    let mut files = Vec::new();
    for requested_file in requested {
        let file_id = requested_file
            .get("id")
            .and_then(Value::as_str)
            .ok_or("invalid_arguments")?;
        // NOTE: `file_not_found` is a guess at the error Slack returns for a
        // file id whose content was never uploaded.
        let upload = state
            .uploads
            .iter()
            .find(|upload| upload.file_id == file_id)
            .ok_or("file_not_found")?;
        let title = requested_file
            .get("title")
            .cloned()
            .unwrap_or(json!(upload.filename));
        files.push(json!({
            "id": file_id,
            "name": upload.filename,
            "title": title,
            "user": BOT_USER_ID,
            "size": upload.content.len(),
        }));
    }
    Ok(json!({ "files": files }))
}

/// Builds the message object that Slack echoes back for a message posted by the bot.
fn bot_message(params: &Map<String, Value>) -> Map<String, Value> {
    let mut message = Map::new();
    message.insert("type".into(), json!("message"));
    message.insert("user".into(), json!(BOT_USER_ID));
    message.insert("bot_id".into(), json!(BOT_ID));
    message.insert("app_id".into(), json!(APP_ID));
    message.insert("team".into(), json!(TEAM_ID));
    message.insert(
        "text".into(),
        params.get("text").cloned().unwrap_or(json!("")),
    );
    for field in ["blocks", "attachments", "metadata"] {
        if let Some(value) = params.get(field) {
            message.insert(field.into(), value.clone());
        }
    }
    message
}

fn required_text<'a>(
    params: &'a Map<String, Value>,
    field: &str,
    error: &'static str,
) -> Result<&'a str, &'static str> {
    params
        .get(field)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
        .ok_or(error)
}

/// Returns a message timestamp that is unique and increasing, like `1700000000.000100`.
fn next_ts(state: &mut FakeState) -> String {
    state.last_ts_counter += 100;
    let seconds = FIRST_TS_SECONDS + state.last_ts_counter / 1_000_000;
    format!("{seconds}.{:06}", state.last_ts_counter % 1_000_000)
}
