//! The upstream APIs the proxy is measured against: actix-web servers on 127.0.0.1 inside
//! the bench process, one worker per core, that answer every request with one small fixed
//! JSON body, at once (as fast as a static route) or after an async sleep (so one server
//! holds thousands of requests in flight without a thread each). No log, no middleware:
//! the reference must cost as little as this machine allows.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};

/// What every upstream request gets.
pub const BODY: &str = r#"{"login":"bench","id":1,"name":"Bench User"}"#;

pub struct Upstream {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl Upstream {
    /// Answers every request with `BODY` after `delay` (none when zero).
    pub fn start(delay: Duration) -> Upstream {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (tx, rx) = mpsc::channel::<(SocketAddr, ServerHandle)>();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            let served = system.block_on(async move {
                let server = HttpServer::new(move || {
                    App::new().default_service(web::to(move || answer(delay)))
                })
                .workers(workers)
                .backlog(8192)
                .disable_signals()
                .shutdown_timeout(1)
                .bind(("127.0.0.1", 0))?;
                let addr = server.addrs()[0];
                let server = server.run();
                let _ = tx.send((addr, server.handle()));
                server.await
            });
            served.expect("upstream server");
        });
        let (addr, handle) = rx.recv().expect("the upstream listens");
        Upstream {
            base: format!("http://{addr}"),
            handle,
            thread: Some(thread),
        }
    }
}

async fn answer(delay: Duration) -> HttpResponse {
    if !delay.is_zero() {
        actix_web::rt::time::sleep(delay).await;
    }
    HttpResponse::Ok()
        .content_type("application/json")
        .body(BODY)
}

impl Drop for Upstream {
    fn drop(&mut self) {
        actix_web::rt::System::new().block_on(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The least any proxy built like keyport's can cost: an actix-web server that takes the
/// same POST, sends one GET to `target` through `awc` (a client per worker, as keyport's
/// `Upstream`) with the bearer header, and returns the answer's body. No key check, no
/// credential, no JSON, no log: the ceiling the proxy's ratio is read against.
pub struct Forwarder {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl Forwarder {
    pub fn start(target: &str, authorization: &str) -> Forwarder {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let url = format!("{target}/user");
        let authorization = authorization.to_owned();
        let (tx, rx) = mpsc::channel::<(SocketAddr, ServerHandle)>();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            let served = system.block_on(async move {
                let server = HttpServer::new(move || {
                    let (url, authorization) = (url.clone(), authorization.clone());
                    App::new()
                        .app_data(web::Data::new(awc::Client::default()))
                        .default_service(web::to(
                            move |client: web::Data<awc::Client>, _body: web::Bytes| {
                                forward(client, url.clone(), authorization.clone())
                            },
                        ))
                })
                .workers(workers)
                .backlog(8192)
                .disable_signals()
                .shutdown_timeout(1)
                .bind(("127.0.0.1", 0))?;
                let addr = server.addrs()[0];
                let server = server.run();
                let _ = tx.send((addr, server.handle()));
                server.await
            });
            served.expect("forwarder");
        });
        let (addr, handle) = rx.recv().expect("the forwarder listens");
        Forwarder {
            base: format!("http://{addr}"),
            handle,
            thread: Some(thread),
        }
    }
}

async fn forward(
    client: web::Data<awc::Client>,
    url: String,
    authorization: String,
) -> HttpResponse {
    let answer = client
        .get(url)
        .insert_header(("authorization", authorization))
        .send()
        .await;
    match answer {
        Ok(mut answer) => match answer.body().await {
            Ok(body) => HttpResponse::Ok()
                .content_type("application/json")
                .body(body),
            Err(_) => HttpResponse::BadGateway().finish(),
        },
        Err(_) => HttpResponse::BadGateway().finish(),
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        actix_web::rt::System::new().block_on(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
