//! Socket Mode route of the fake: the `/link/` WebSocket that `apps.connections.open` points to.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{APP_ID, Ack, Connection, Shared, SocketCommand};

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/link/", get(handle_upgrade))
        .with_state(shared)
}

/// Accepts a WebSocket upgrade when its `ticket` was handed out by
/// `apps.connections.open` and not used yet.
async fn handle_upgrade(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let ticket = query.get("ticket").cloned().unwrap_or_default();
    let ticket_was_open = shared.update(|state| {
        let position = state.open_tickets.iter().position(|open| *open == ticket);
        position
            .map(|index| state.open_tickets.remove(index))
            .is_some()
    });
    if !ticket_was_open {
        return (
            StatusCode::UNAUTHORIZED,
            "unknown or used Socket Mode ticket",
        )
            .into_response();
    }
    upgrade.on_upgrade(move |socket| serve_connection(shared, socket))
}

/// Sends `hello`, then relays commands from the test to the client and
/// records the client's text frames as acknowledgements until either side closes.
async fn serve_connection(shared: Arc<Shared>, mut socket: WebSocket) {
    let hello = json!({
        "type": "hello",
        "num_connections": 1,
        "debug_info": { "host": "fake", "build_number": 1, "approximate_connection_time": 3600 },
        "connection_info": { "app_id": APP_ID },
    });
    if socket
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }

    let (commands, mut command_receiver) = mpsc::unbounded_channel();
    let connection_id = shared.update(|state| {
        state.last_connection_id += 1;
        state.connections_accepted += 1;
        let id = state.last_connection_id;
        state.connections.push(Connection {
            id,
            commands,
            disconnect_sent: false,
        });
        id
    });

    loop {
        tokio::select! {
            command = command_receiver.recv() => match command {
                Some(SocketCommand::Send(text)) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                // Returning drops the socket, which closes the TCP stream
                // without a close frame.
                Some(SocketCommand::Drop) | None => break,
            },
            frame = socket.recv() => match frame {
                Some(Ok(Message::Text(text))) => record_ack(&shared, text.as_str()),
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                // axum replies to pings by itself.
                Some(Ok(_)) => {}
            },
        }
    }

    shared.update(|state| {
        state
            .connections
            .retain(|connection| connection.id != connection_id);
    });
}

/// Records a client frame that carries an `envelope_id` as the acknowledgement of that envelope.
fn record_ack(shared: &Shared, frame: &str) {
    let received_at = Instant::now();
    let Ok(frame) = serde_json::from_str::<Value>(frame) else {
        eprintln!("fake Slack: ignored a Socket Mode frame that is not JSON: {frame}");
        return;
    };
    let Some(envelope_id) = frame.get("envelope_id").and_then(Value::as_str) else {
        eprintln!("fake Slack: ignored a Socket Mode frame without `envelope_id`: {frame}");
        return;
    };
    shared.update(|state| {
        state.acks.entry(envelope_id.to_string()).or_insert(Ack {
            received_at,
            frame: frame.clone(),
        });
    });
}
