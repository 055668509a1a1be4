//! `rdplay preview --serve`: the live preview's web server.
//!
//! It listens on 127.0.0.1 only, on a port the system picks, and answers only requests whose path
//! starts with a random token (256 bits from the OS) and whose `Host` is `127.0.0.1:PORT` or
//! `localhost:PORT` (so a web page elsewhere cannot reach it through DNS rebinding); anything else
//! gets an empty 403 or 404. It serves the page (`page.html`, in the binary), the sheets' state
//! as Server-Sent Events, their pages as SVG, their data and their PDF, and takes the page's
//! sample values. It reads the templates and the files beside them, never a password file or
//! the inventory.
//!
//! Routes, under `/TOKEN/`: `` (the page), `events`, `state`, `sample` (POST),
//! `sheet/N/page/P`, `sheet/N/pdf`, `sheet/N/data.json`.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use rand::TryRngCore;

use super::live::{self, Live};
use super::{PreviewArgs, PreviewError, Sample, sheets};
use crate::commands::CommandError;
use crate::render::Format;

/// The page: plain HTML and JavaScript, no build step.
const PAGE: &str = include_str!("page.html");

/// A running live preview. Dropping it stops the server and the watching.
pub struct Server {
    url: String,
    live: Arc<Live>,
    runtime: tokio::runtime::Runtime,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl Server {
    /// The page's address, token included: `http://127.0.0.1:PORT/TOKEN/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many sheets the page shows.
    pub fn sheets(&self) -> usize {
        self.live.len()
    }

    /// Serves until Ctrl-C (or SIGTERM).
    pub fn wait(self) -> Result<(), CommandError> {
        self.runtime.block_on(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .map_err(CommandError::message)?;
            tokio::select! {
                stop = tokio::signal::ctrl_c() => stop.map_err(CommandError::message),
                _ = term.recv() => Ok(()),
            }
        })
    }
}

/// Starts the live preview of `args`' sheets: draws them once, then serves the page and watches
/// their files. Returns once the page can be opened.
pub fn serve(args: PreviewArgs) -> Result<Server, CommandError> {
    let (sheets, defaults) = sheets(&args, None)?;
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(PreviewError::Listen)?;
    listener
        .set_nonblocking(true)
        .map_err(PreviewError::Listen)?;
    let port = listener.local_addr().map_err(PreviewError::Listen)?.port();
    let token = token().map_err(PreviewError::Listen)?;
    let live = Live::start(sheets, defaults);
    let watcher = live::watch(&live)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("preview-http")
        .enable_all()
        .build()
        .map_err(PreviewError::Listen)?;
    let app = router(Arc::new(Site {
        live: live.clone(),
        token: token.clone(),
        hosts: [format!("127.0.0.1:{port}"), format!("localhost:{port}")],
    }));
    let listener = {
        let _entered = runtime.enter();
        tokio::net::TcpListener::from_std(listener).map_err(PreviewError::Listen)?
    };
    runtime.spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("the preview page stopped: {e}");
        }
    });
    Ok(Server {
        url: format!("http://127.0.0.1:{port}/{token}/"),
        live,
        runtime,
        _watcher: watcher,
    })
}

/// 32 bytes from the OS's random source, as URL-safe base64 (43 characters).
fn token() -> std::io::Result<String> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(std::io::Error::other)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// What every request is checked against, and the sheets it asks about.
struct Site {
    live: Arc<Live>,
    token: String,
    /// The only `Host` headers answered.
    hosts: [String; 2],
}

type Shared = State<Arc<Site>>;

fn router(site: Arc<Site>) -> Router {
    let at = |path: &str| format!("/{}/{path}", site.token);
    let home = at("");
    Router::new()
        .route(
            &format!("/{}", site.token),
            get(|| async move { Redirect::permanent(&home) }),
        )
        .route(&at(""), get(page))
        .route(&at("events"), get(events))
        .route(&at("state"), get(state))
        .route(&at("sample"), post(set_sample))
        .route(&at("sheet/{sheet}/page/{page}"), get(page_svg))
        .route(&at("sheet/{sheet}/pdf"), get(pdf))
        .route(&at("sheet/{sheet}/data.json"), get(data))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(middleware::from_fn_with_state(site.clone(), guard))
        .with_state(site)
}

/// Refuses any `Host` but ours (403) and any path that does not start with the token (404), both
/// with an empty body; adds headers that keep the page to itself.
async fn guard(State(site): Shared, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !site.hosts.iter().any(|h| h == host) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let first = request.uri().path().split('/').nth(1).unwrap_or("");
    if !same(first.as_bytes(), site.token.as_bytes()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             img-src 'self' data:; connect-src 'self'; form-action 'none'; base-uri 'none'; \
             frame-ancestors 'none'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Compares in a time that does not depend on where the bytes differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response()
}

async fn state(State(site): Shared) -> Response {
    axum::Json(site.live.state_json()).into_response()
}

/// The state, now and after every draw, as Server-Sent Events named `state`.
async fn events(
    State(site): Shared,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let generations = site.live.subscribe();
    let stream = futures_util::stream::unfold(
        (site, generations, true),
        |(site, mut generations, first)| async move {
            if !first && generations.changed().await.is_err() {
                return None;
            }
            generations.borrow_and_update();
            let event = Event::default()
                .event("state")
                .data(site.live.state_json().to_string());
            Some((Ok(event), (site, generations, false)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// Takes the page's changes to the sample values (all of them: a field left out is the
/// sample's again) and draws the sheets with them.
async fn set_sample(State(site): Shared, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<Sample>(&body) {
        Ok(changes) => {
            site.live.set_changes(changes);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

async fn page_svg(
    State(site): Shared,
    UrlPath((sheet, page)): UrlPath<(usize, usize)>,
) -> Response {
    match site.live.page_svg(sheet, page) {
        Some(svg) => ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn data(State(site): Shared, UrlPath(sheet): UrlPath<usize>) -> Response {
    match site.live.sheet_data(sheet) {
        Some((_, data, _, _)) => axum::Json(data).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The sheet's PDF with the data on the page: made by the very function `rdplay preview -o`
/// uses, so it is the file a run writes for that data. A template that does not compile gets
/// 409 and typst's message.
async fn pdf(State(site): Shared, UrlPath(sheet): UrlPath<usize>) -> Response {
    let Some((sheet, data, lang, file)) = site.live.sheet_data(sheet) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let made = tokio::task::spawn_blocking(move || {
        crate::render::preview(
            sheet.kind,
            sheet.template.as_deref(),
            &data,
            Format::Pdf,
            &lang,
        )
    })
    .await;
    match made {
        Ok(Ok((bytes, _))) => (
            [
                (header::CONTENT_TYPE, "application/pdf".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}\"", ascii_name(&file)),
                ),
            ],
            bytes,
        )
            .into_response(),
        Ok(Err(e)) => (StatusCode::CONFLICT, e.to_string()).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// A file name fit for a `Content-Disposition` header: printable ASCII, no quote or backslash.
fn ascii_name(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_compared_whole() {
        let (a, b) = (token().unwrap(), token().unwrap());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(same(a.as_bytes(), a.clone().as_bytes()));
        assert!(!same(a.as_bytes(), b.as_bytes()));
        assert!(!same(a.as_bytes(), &a.as_bytes()[..42]));
    }
}
