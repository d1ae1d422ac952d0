//! Many idle keep-alive connections held open to one server: each connection is opened
//! and sends one `GET /healthz` (so it is an HTTP keep-alive connection, not a bare
//! socket), then all sit idle together; afterwards every one is checked to be still open
//! (a non-blocking peek: no data and no end of stream), and a sample of them sends a
//! second request, which must be answered. One thread, blocking sockets, `httparse` for
//! the answers: the point is holding sockets, not speed.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// What holding the connections showed.
#[derive(Debug, Default)]
pub struct Held {
    /// Connections that answered their first request with 200.
    pub opened: usize,
    /// Connections that failed to open or to answer 200.
    pub open_errors: usize,
    /// From the first connect to the last first answer.
    pub open_took: Duration,
    /// Still open after the hold.
    pub still_open: usize,
    /// How long the first connection had been idle at the check.
    pub oldest_idle: Duration,
    pub sampled: usize,
    /// Sampled connections whose second request got a 200.
    pub sample_ok: usize,
}

/// Opens `count` connections to `addr`, holds them idle for `hold` (calling `while_held`
/// once they are all open, e.g. to read the server's memory), then checks them and sends
/// a second request on every `sample_every`-th.
pub fn hold(
    addr: SocketAddr,
    count: usize,
    hold: Duration,
    sample_every: usize,
    while_held: impl FnOnce(),
) -> Held {
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let mut held = Held::default();
    let mut streams = Vec::with_capacity(count);
    let began = Instant::now();
    let mut first_answer = None;
    for _ in 0..count {
        match open(addr, request.as_bytes()) {
            Ok(stream) => {
                first_answer.get_or_insert_with(Instant::now);
                streams.push(stream);
            }
            Err(_) => held.open_errors += 1,
        }
    }
    held.opened = streams.len();
    held.open_took = began.elapsed();
    std::thread::sleep(hold);
    while_held();
    held.oldest_idle = first_answer.map_or(Duration::ZERO, |t| t.elapsed());
    held.still_open = streams.iter().filter(|s| is_open(s)).count();
    for stream in streams.iter_mut().step_by(sample_every.max(1)) {
        held.sampled += 1;
        if ask(stream, request.as_bytes()).is_ok_and(|status| status == 200) {
            held.sample_ok += 1;
        }
    }
    held
}

fn open(addr: SocketAddr, request: &[u8]) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.set_nodelay(true)?;
    match ask(&mut stream, request)? {
        200 => Ok(stream),
        status => Err(std::io::Error::other(format!("status {status}"))),
    }
}

/// Open: nothing to read and no end of stream.
fn is_open(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let open = matches!(stream.peek(&mut [0u8; 1]), Err(e) if e.kind() == ErrorKind::WouldBlock);
    open && stream.set_nonblocking(false).is_ok()
}

/// Sends `request` and reads one whole answer (by its Content-Length); its status.
pub fn ask(stream: &mut TcpStream, request: &[u8]) -> std::io::Result<u16> {
    stream.write_all(request)?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut answer = httparse::Response::new(&mut headers);
        let parsed = answer.parse(&buf).map_err(std::io::Error::other)?;
        if let httparse::Status::Complete(head) = parsed {
            let length = answer
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| {
                    std::str::from_utf8(h.value)
                        .ok()?
                        .trim()
                        .parse::<usize>()
                        .ok()
                })
                .ok_or_else(|| std::io::Error::other("no Content-Length"))?;
            let status = answer.code.unwrap_or(0);
            while buf.len() < head + length {
                let n = stream.read(&mut chunk)?;
                if n == 0 {
                    return Err(ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(status);
        }
    }
}
