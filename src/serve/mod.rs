//! `grantlog serve`: the engine as a decision service over HTTP, speaking
//! the OpenID AuthZEN Authorization API 1.0 (see [`authzen`] for how its
//! requests map onto a policy), with live fact updates made durable by a
//! write-ahead log ([`wal`]), reloads, metrics and decision logs.
//!
//! | endpoint | what |
//! | --- | --- |
//! | `POST /access/v1/evaluation` | one decision |
//! | `POST /access/v1/evaluations` | a batch, with `evaluations_semantic` |
//! | `POST /access/v1/search/{subject,resource,action}` | who-can, what-can, which actions; paged |
//! | `GET /.well-known/authzen-configuration` | the PDP metadata |
//! | `POST /v1/facts` | a batch of JSON facts to add and remove, all or nothing (token) |
//! | `POST /v1/reload` (and `SIGHUP`) | re-read the policy files (token) |
//! | `GET /healthz` | serving, with the revision and warm progress |
//! | `GET /metrics` | Prometheus text |
//!
//! Every error is a JSON body `{"error": {"status": N, "message": "..."}}`;
//! no error is ever an allow.

pub mod authzen;
mod compact;
mod metrics;
pub mod wal;

use crate::eval::snapshot::Snapshot;
use crate::{ApplyError, Engine, WriterLog};
use authzen::{Answer, Detail, Evaluation, Evaluations, Mapping, Search, SearchKind};
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics::{Decided, Metrics};
use serde::de::DeserializeOwned;
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, Signal, SignalKind};
use wal::{Checkpoint, FactBatch, Record, Wal};

/// How to serve.
#[derive(Clone, Debug)]
pub struct Config {
    /// Policy files and directories.
    pub paths: Vec<PathBuf>,
    /// JSON facts files.
    pub data: Vec<PathBuf>,
    /// Where to listen.
    pub addr: SocketAddr,
    /// The base URL the metadata advertises (default: `http://ADDR`).
    pub public_url: Option<String>,
    /// Where the write-ahead log of fact batches lives; without it, posted
    /// facts last until the server stops.
    pub state_dir: Option<PathBuf>,
    /// The bearer token write endpoints require (no token: writes refused).
    pub token: Option<String>,
    /// Require the token on reads too (every endpoint but `/healthz`).
    pub protect_reads: bool,
    /// Decision log: a file to append to, or `-` for standard output.
    pub decision_log: Option<PathBuf>,
    /// AuthZEN resource types served as other node types.
    pub mapping: Mapping,
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// Longest a connection may take to send a request's headers (idle
    /// keep-alive connections included).
    pub header_timeout: Duration,
    /// Threads warming each new snapshot (default: cores - 1).
    pub warm_threads: Option<usize>,
    /// Compact the write-ahead log once it holds more than this many
    /// records.
    pub compact_after: usize,
    /// Benchmarks only: also serve `POST /bench/floor`, which reads an
    /// evaluation like `/access/v1/evaluation` and answers a constant
    /// `{"decision":true}` without consulting the policy: the HTTP floor a
    /// benchmark compares evaluations with. Never enable it in service.
    pub http_floor: bool,
}

impl Config {
    /// Serving `paths` on loopback port 8181 with the defaults.
    pub fn new(paths: Vec<PathBuf>) -> Config {
        Config {
            paths,
            data: Vec::new(),
            addr: SocketAddr::from(([127, 0, 0, 1], 8181)),
            public_url: None,
            state_dir: None,
            token: None,
            protect_reads: false,
            decision_log: None,
            mapping: Mapping::default(),
            max_body: 1 << 20,
            request_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            warm_threads: None,
            http_floor: false,
            compact_after: 1000,
        }
    }
}

/// What the handlers share.
struct Shared {
    engine: Engine,
    config: Config,
    /// The log of posted batches; its lock also puts writers (fact
    /// batches, reloads) one after the other.
    writes: Mutex<Writes>,
    metrics: Metrics,
    base_url: String,
}

struct Writes {
    wal: Option<Wal>,
    /// Batches posted since start, when there is no log to hold them (so a
    /// reload keeps them).
    memory: Vec<Record>,
}

impl Writes {
    fn records(&self) -> &[Record] {
        match &self.wal {
            Some(wal) => wal.records(),
            None => &self.memory,
        }
    }
}

type AppState = Arc<Shared>;

/// The policy files with the logged batches replayed on top, in order. A
/// compacted log's record, replayed on the files it was made on, gives the
/// revision that was served when it was made.
fn load(config: &Config, records: &[Record]) -> Result<Snapshot, String> {
    let mut snapshot =
        Snapshot::from_paths_with_data(&config.paths, &config.data).map_err(|e| match e {
            crate::Error::Load(l) => l.render(false),
            other => other.to_string(),
        })?;
    // Batches replayed in order give the revisions they gave when they were
    // posted; after a compacted record, which stands for several batches,
    // the logged revisions are restored, as long as the policy files are
    // the ones it was made on.
    let mut restamp = false;
    for (i, record) in records.iter().enumerate() {
        let base = snapshot.revision();
        let (next, _) = snapshot.apply(&record.batch.to_batch()).map_err(|e| {
            format!(
                "logged batch {} no longer applies to the policy:\n{}",
                i + 1,
                e.render(false)
            )
        })?;
        if let Some(c) = &record.checkpoint {
            restamp = c.base == base;
        }
        snapshot = match (&record.revision, restamp) {
            (Some(revision), true) => next
                .restamped(revision)
                .ok_or_else(|| format!("logged batch {} has a damaged revision", i + 1))?,
            _ => next,
        };
    }
    Ok(snapshot)
}

/// Replaces the log with one batch of the same effect, if one is found
/// (see [`compact`]); says what it did on standard error.
fn compact_log(shared: &Shared) {
    let mut writes = shared.writes.lock().unwrap_or_else(|e| e.into_inner());
    let Some(wal) = writes.wal.as_mut() else {
        return;
    };
    if wal.records().len() <= shared.config.compact_after {
        return;
    }
    let before = wal.records().len();
    let Ok(base) = load(&shared.config, &[]) else {
        return; // the files changed on disk: compact after the next reload
    };
    let current = shared.engine.snapshot();
    let Some(batch) = compact::squash(&base, &current) else {
        eprintln!(
            "grantlog: `{}` holds {before} batches that no one batch restates; left whole",
            wal.path().display()
        );
        return;
    };
    let record = Record {
        batch,
        revision: Some(current.revision()),
        checkpoint: Some(Checkpoint {
            base: base.revision(),
        }),
    };
    match wal.replace_with(record) {
        Ok(()) => eprintln!(
            "grantlog: compacted `{}`: {before} batches into one",
            wal.path().display()
        ),
        Err(e) => eprintln!(
            "grantlog: could not compact `{}` (it is left whole): {e}",
            wal.path().display()
        ),
    }
}

/// Loads the policy, replays the log, binds `config.addr`, and serves until
/// SIGINT or SIGTERM. `ready` hears the address bound and the revision.
pub fn run(config: Config, ready: impl FnOnce(SocketAddr, &str)) -> Result<(), String> {
    let (wal, memory) = match &config.state_dir {
        Some(dir) => {
            let opened = Wal::open(dir)?;
            if let Some(dropped) = &opened.dropped {
                eprintln!("grantlog: {dropped}");
            }
            (Some(opened.wal), Vec::new())
        }
        None => (None, Vec::new()),
    };
    let records = wal.as_ref().map_or(&[][..], |w| w.records());
    let snapshot = load(&config, records)?;
    let mut engine = Engine::with_warm_threads(snapshot, config.warm_threads);
    if let Some(path) = &config.decision_log {
        let sink: Box<dyn std::io::Write + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdout())
        } else {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot open the decision log `{}`: {e}", path.display()))?;
            Box::new(file)
        };
        engine.set_decision_log(WriterLog(Mutex::new(sink)));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the server's runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
        let bound = listener
            .local_addr()
            .map_err(|e| format!("cannot read the bound address: {e}"))?;
        let base_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_string();
        let shared = Arc::new(Shared {
            engine,
            writes: Mutex::new(Writes { wal, memory }),
            metrics: Metrics::default(),
            base_url,
            config,
        });
        // The signals are taken before the server says it is ready, so
        // that one sent as soon as it is is handled, never the default
        // action that would kill it.
        let signals = Signals::take();
        ready(bound, &shared.engine.revision());
        if let Some(hup) = signals.hangup {
            tokio::spawn(reload_on_hangup(Arc::clone(&shared), hup));
        }
        let stop = shutdown(signals.interrupt, signals.terminate);
        serve(listener, Arc::clone(&shared), stop).await;
        Ok(())
    })
}

/// Accepts connections until `stop` (SIGINT or SIGTERM), then lets the requests in
/// flight finish (for up to the request timeout) and closes idle
/// connections.
async fn serve(
    listener: tokio::net::TcpListener,
    shared: AppState,
    stop: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;
    let app = router(Arc::clone(&shared));
    let header_timeout = shared.config.header_timeout;
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let stream = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of descriptors, say: wait a moment rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    drop(listener);
    eprintln!("grantlog: stopping; finishing the requests in flight");
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(shared.config.request_timeout) => {}
    }
}

/// The signals the server handles, registered with the runtime (`None`:
/// one that could not be).
struct Signals {
    interrupt: Option<Signal>,
    terminate: Option<Signal>,
    hangup: Option<Signal>,
}

impl Signals {
    fn take() -> Signals {
        Signals {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
            hangup: signal(SignalKind::hangup()).ok(),
        }
    }
}

/// Resolves when SIGINT or SIGTERM arrives.
async fn shutdown(mut interrupt: Option<Signal>, mut terminate: Option<Signal>) {
    async fn arrives(signal: &mut Option<Signal>) {
        match signal {
            Some(signal) => {
                signal.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    tokio::select! {
        _ = arrives(&mut interrupt) => {}
        _ = arrives(&mut terminate) => {}
    }
}

async fn reload_on_hangup(shared: AppState, mut hup: Signal) {
    while hup.recv().await.is_some() {
        let shared = Arc::clone(&shared);
        let outcome = tokio::task::spawn_blocking(move || reload(&shared)).await;
        match outcome {
            Ok(Ok(revision)) => {
                eprintln!("grantlog: reloaded on SIGHUP; serving revision {revision}")
            }
            Ok(Err(e)) => eprintln!(
                "grantlog: reload on SIGHUP failed; still serving the previous policy:\n{e}"
            ),
            Err(e) => eprintln!("grantlog: reload on SIGHUP failed: {e}"),
        }
    }
}

/// The routes, behind authentication, the panic guard and the timeout.
fn router(shared: AppState) -> Router {
    let routes = Router::new()
        .route("/access/v1/evaluation", post(evaluation))
        .route("/access/v1/evaluations", post(evaluations))
        .route("/access/v1/search/subject", post(search_subject))
        .route("/access/v1/search/resource", post(search_resource))
        .route("/access/v1/search/action", post(search_action))
        .route("/.well-known/authzen-configuration", get(metadata))
        .route("/v1/facts", post(facts))
        .route("/v1/reload", post(reload_handler))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_handler));
    let routes = match shared.config.http_floor {
        true => routes.route("/bench/floor", post(floor)),
        false => routes,
    };
    guarded(routes, shared)
}

/// `routes` behind the layers every request passes.
fn guarded(routes: Router<AppState>, shared: AppState) -> Router {
    let timeout = shared.config.request_timeout;
    routes
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), authenticate))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::error_handling::HandleErrorLayer::new(
                    move |_: tower::BoxError| async move {
                        ApiError(
                            StatusCode::REQUEST_TIMEOUT,
                            format!(
                                "the request took longer than {} s and was abandoned; \
                                 nothing was allowed (a fact batch may still apply: check /healthz's revision)",
                                timeout.as_secs_f64()
                            ),
                        )
                    },
                ))
                .layer(tower::timeout::TimeoutLayer::new(timeout)),
        )
        .with_state(shared)
}

/// An error answer: a status and a JSON body saying what to do.
#[derive(Debug)]
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "status": self.0.as_u16(), "message": self.1 } });
        let mut response = (self.0, Json(body)).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error while answering this request; nothing was allowed or changed".into(),
    )
    .into_response()
}

async fn not_found() -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        "no such endpoint; see /.well-known/authzen-configuration".into(),
    )
}

/// Checks the bearer token where one is needed, and echoes `X-Request-ID`.
async fn authenticate(State(shared): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let write = matches!(path, "/v1/facts" | "/v1/reload");
    let open = path == "/healthz";
    let needed = write || (shared.config.protect_reads && !open);
    if needed {
        let Some(token) = &shared.config.token else {
            return ApiError(
                StatusCode::FORBIDDEN,
                "writes are disabled: start the server with --token-file FILE to enable them"
                    .into(),
            )
            .into_response();
        };
        if !bearer_matches(request.headers(), token) {
            return ApiError(
                StatusCode::UNAUTHORIZED,
                "send the server's token as `Authorization: Bearer TOKEN`".into(),
            )
            .into_response();
        }
    }
    let id = request.headers().get("x-request-id").cloned();
    let mut response = next.run(request).await;
    if let Some(id) = id {
        response.headers_mut().insert("x-request-id", id);
    }
    response
}

fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
    else {
        return false;
    };
    given.ct_eq(token.as_bytes()).into()
}

/// Reads a JSON body within the size limit.
async fn read_json<T: DeserializeOwned>(shared: &Shared, body: Body) -> Result<T, ApiError> {
    let limit = shared.config.max_body;
    let bytes: Bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        bad_request(format!(
            "the request body is larger than {limit} bytes, or was cut off; send less (--max-body sets the limit)"
        ))
    })?;
    let de = &mut serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let at = e.path().to_string();
        let inner = e.into_inner();
        match at.as_str() {
            "." | "?" => bad_request(format!("the body is not a valid request: {inner}")),
            _ => bad_request(format!("the body is not a valid request: at {at}: {inner}")),
        }
    })
}

/// `?reasons=true` and `?explain=true`.
fn detail(query: Option<String>) -> Result<Detail, ApiError> {
    let mut detail = Detail::default();
    for pair in query
        .iter()
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, "true"));
        let on = match value {
            "true" | "1" | "" => true,
            "false" | "0" => false,
            _ => return Err(bad_request(format!("`{key}` takes true or false"))),
        };
        match key {
            "reasons" => detail.reasons = on,
            "explain" => detail.explain = on,
            _ => {}
        }
    }
    Ok(detail)
}

/// The HTTP floor: an evaluation read and answered with a constant, for
/// benchmarks (see [`Config::http_floor`]).
async fn floor(State(shared): State<AppState>, body: Body) -> Result<Json<Answer>, ApiError> {
    let _: Evaluation = read_json(&shared, body).await?;
    Ok(Json(Answer {
        decision: true,
        context: None,
    }))
}

async fn evaluation(
    State(shared): State<AppState>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Json<Answer>, ApiError> {
    let detail = detail(query)?;
    let e: Evaluation = read_json(&shared, body).await?;
    Ok(Json(decide(&shared, &shared.engine.snapshot(), &e, detail)))
}

/// Decides one evaluation in `snapshot`, and counts it in the metrics: by
/// result (a refused request is an `error`), with the time it took.
fn decide(shared: &Shared, snapshot: &Snapshot, e: &Evaluation, detail: Detail) -> Answer {
    let started = Instant::now();
    let mapping = &shared.config.mapping;
    let (answer, refused) = authzen::evaluate(&shared.engine, snapshot, mapping, e, detail);
    let how = match (answer.decision, refused) {
        (true, _) => Decided::Allow,
        (false, true) => Decided::Error,
        (false, false) => Decided::Deny,
    };
    shared.metrics.decided(how, started.elapsed());
    answer
}

async fn evaluations(
    State(shared): State<AppState>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let detail = detail(query)?;
    let batch: Evaluations = read_json(&shared, body).await?;
    // One snapshot answers the whole batch.
    let snapshot = shared.engine.snapshot();
    // Without items, the request is one evaluation, answered as one.
    if batch
        .evaluations
        .as_ref()
        .is_none_or(|items| items.is_empty())
    {
        let answer = decide(&shared, &snapshot, &batch.defaults, detail);
        return Ok(Json(answer).into_response());
    }
    let evaluations = authzen::evaluate_all(&batch, |e| decide(&shared, &snapshot, e, detail));
    Ok(Json(authzen::Answers { evaluations }).into_response())
}

async fn search_with(shared: AppState, kind: SearchKind, body: Body) -> Result<Response, ApiError> {
    let s: Search = read_json(&shared, body).await?;
    let page = tokio::task::spawn_blocking(move || {
        let snapshot = shared.engine.snapshot();
        authzen::search(&snapshot, &shared.config.mapping, kind, &s)
    })
    .await
    .map_err(|_| internal())?
    .map_err(bad_request)?;
    Ok(Json(page).into_response())
}

fn internal() -> ApiError {
    ApiError(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error while answering this request; nothing was allowed or changed".into(),
    )
}

async fn search_subject(State(shared): State<AppState>, body: Body) -> Result<Response, ApiError> {
    search_with(shared, SearchKind::Subject, body).await
}

async fn search_resource(State(shared): State<AppState>, body: Body) -> Result<Response, ApiError> {
    search_with(shared, SearchKind::Resource, body).await
}

async fn search_action(State(shared): State<AppState>, body: Body) -> Result<Response, ApiError> {
    search_with(shared, SearchKind::Action, body).await
}

async fn metadata(State(shared): State<AppState>) -> Json<serde_json::Value> {
    let base = &shared.base_url;
    Json(json!({
        "policy_decision_point": base,
        "access_evaluation_endpoint": format!("{base}/access/v1/evaluation"),
        "access_evaluations_endpoint": format!("{base}/access/v1/evaluations"),
        "search_subject_endpoint": format!("{base}/access/v1/search/subject"),
        "search_resource_endpoint": format!("{base}/access/v1/search/resource"),
        "search_action_endpoint": format!("{base}/access/v1/search/action"),
    }))
}

async fn facts(State(shared): State<AppState>, body: Body) -> Result<Response, ApiError> {
    let batch: FactBatch = read_json(&shared, body).await?;
    let compacting = Arc::clone(&shared);
    let applied = tokio::task::spawn_blocking(move || {
        let mut writes = shared.writes.lock().unwrap_or_else(|e| e.into_inner());
        let writes = &mut *writes;
        let result = shared
            .engine
            .apply_logged(batch.to_batch(), |_, next| match &mut writes.wal {
                Some(wal) => wal.append(&batch, &next.revision()),
                None => Ok(()),
            });
        let outcome = match &result {
            Ok(_) => "applied",
            Err(ApplyError::Rejected(_)) => "rejected",
            Err(ApplyError::Log(_)) => "unlogged",
        };
        shared.metrics.update(outcome);
        match result {
            Ok(update) => {
                if writes.wal.is_none() {
                    writes.memory.push(Record {
                        batch,
                        revision: None,
                        checkpoint: None,
                    });
                }
                Ok(json!({
                    "revision": shared.engine.revision(),
                    "principals_affected": update.principals_affected,
                }))
            }
            Err(ApplyError::Rejected(e)) => Err(bad_request(format!(
                "the batch was not applied (nothing changed):\n{}",
                e.render(false)
            ))),
            Err(ApplyError::Log(e)) => Err(ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the batch could not be written to the log, so it was not applied (nothing changed): {e}"),
            )),
        }
    })
    .await
    .map_err(|_| internal())??;
    // After the answer, off the request's path: compaction takes the write
    // lock like any batch.
    tokio::task::spawn_blocking(move || compact_log(&compacting));
    Ok(Json(applied).into_response())
}

/// Re-reads the policy files and replays the posted batches on top; the old
/// snapshot serves on if that fails.
fn reload(shared: &Shared) -> Result<String, String> {
    let writes = shared.writes.lock().unwrap_or_else(|e| e.into_inner());
    match load(&shared.config, writes.records()) {
        Ok(snapshot) => {
            shared.engine.replace(snapshot);
            shared.metrics.reload("applied");
            Ok(shared.engine.revision())
        }
        Err(e) => {
            shared.metrics.reload("failed");
            Err(e)
        }
    }
}

async fn reload_handler(State(shared): State<AppState>) -> Result<Response, ApiError> {
    let current = shared.engine.revision();
    let outcome = tokio::task::spawn_blocking(move || reload(&shared))
        .await
        .map_err(|_| internal())?;
    match outcome {
        Ok(revision) => Ok(Json(json!({ "revision": revision })).into_response()),
        Err(e) => Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the reload failed; still serving revision {current}:\n{e}"),
        )),
    }
}

async fn healthz(State(shared): State<AppState>) -> Json<serde_json::Value> {
    let warm = shared.engine.warm_progress();
    Json(json!({
        "status": "serving",
        "revision": shared.engine.revision(),
        "warm": { "done": warm.done, "total": warm.total },
    }))
}

async fn metrics_handler(State(shared): State<AppState>) -> Response {
    let text = shared.metrics.render(&shared.engine);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    fn shared() -> AppState {
        let snapshot = Snapshot::from_paths(&["policies/dify.policy"]).unwrap();
        let mut config = Config::new(vec!["policies/dify.policy".into()]);
        config.request_timeout = Duration::from_millis(200);
        Arc::new(Shared {
            engine: Engine::with_warm_threads(snapshot, Some(0)),
            config,
            writes: Mutex::new(Writes {
                wal: None,
                memory: Vec::new(),
            }),
            metrics: Metrics::default(),
            base_url: "http://localhost".into(),
        })
    }

    async fn call(app: &Router, path: &str) -> (StatusCode, serde_json::Value) {
        let request = axum::http::Request::post(path).body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_panic_in_a_handler_is_a_500_and_the_server_serves_on() {
        let routes = Router::new()
            .route(
                "/boom",
                post(|| async {
                    if true {
                        panic!("a handler's bug");
                    }
                    StatusCode::OK
                }),
            )
            .route(
                "/slow",
                post(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }),
            )
            .route("/access/v1/evaluation", post(evaluation));
        let app = guarded(routes, shared());
        let (status, body) = call(&app, "/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body["error"]["message"],
            "internal error while answering this request; nothing was allowed or changed"
        );
        let (status, body) = call(&app, "/slow").await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(body["error"]["status"], 408);
        // And the next request is answered.
        let request = axum::http::Request::post("/access/v1/evaluation")
            .body(Body::from(
                r#"{"subject":{"type":"user","id":"carol"},"action":{"name":"app.edit"},"resource":{"type":"app","id":"chatbot"}}"#,
            ))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        assert_eq!(&bytes[..], br#"{"decision":true}"#);
    }
}
