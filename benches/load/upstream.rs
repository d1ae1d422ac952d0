//! The servers the proxy is measured against, actix-web on 127.0.0.1 inside the bench
//! process, one worker per core, no log, no middleware, so a reference costs as little as
//! this machine allows:
//! - [`Upstream`]: an API that answers every request with one small fixed JSON body, at
//!   once (as fast as a static route) or after an async sleep (so one server holds
//!   thousands of requests in flight without a thread each);
//! - [`Forwarder`]: the least any proxy built like keyport's can cost, the ceiling the
//!   proxy's ratio is read against.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};

/// What every upstream request gets.
pub const BODY: &str = r#"{"login":"bench","id":1,"name":"Bench User"}"#;

/// A server running on its own thread until dropped.
pub struct Served {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl Served {
    /// Serves an app that `routes` configures, one worker per core.
    fn serve<R>(what: &'static str, routes: R) -> Served
    where
        R: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
    {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (tx, rx) = mpsc::channel::<(SocketAddr, ServerHandle)>();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            let served = system.block_on(async move {
                let server = HttpServer::new(move || App::new().configure(routes.clone()))
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
            served.unwrap_or_else(|e| panic!("{what}: {e}"));
        });
        let (addr, handle) = rx.recv().unwrap_or_else(|_| panic!("{what} listens"));
        Served {
            base: format!("http://{addr}"),
            handle,
            thread: Some(thread),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        actix_web::rt::System::new().block_on(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub type Upstream = Served;
pub type Forwarder = Served;

impl Served {
    /// An upstream that answers every request with `BODY` after `delay` (none when zero).
    pub fn answering(delay: Duration) -> Upstream {
        Served::serve("upstream", move |cfg| {
            cfg.default_service(web::to(move || answer(delay)));
        })
    }

    /// A bare forwarder: takes the proxy's POST, sends one GET to `target`'s `/user` through
    /// `awc` (a client per worker, as keyport's `Upstream`, with no cap on connections) with
    /// `authorization`, and returns the answer's body. No key check, credential, JSON or
    /// log.
    pub fn forwarding(target: &str, authorization: &str) -> Forwarder {
        let url = format!("{target}/user");
        let authorization = authorization.to_owned();
        Served::serve("forwarder", move |cfg| {
            let (url, authorization) = (url.clone(), authorization.clone());
            // As keyport's client: no cap on connections (awc's default is 100).
            let client = awc::Client::builder()
                .connector(awc::Connector::new().limit(0))
                .disable_redirects()
                .finish();
            cfg.app_data(web::Data::new(client))
                .default_service(web::to(
                    move |client: web::Data<awc::Client>, _body: web::Bytes| {
                        forward(client, url.clone(), authorization.clone())
                    },
                ));
        })
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
