//! A Prometheus of the test's own scrapes a `/metrics` page on loopback
//! and answers queries about it; dropped, it leaves no process or file.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use jolt_e2e::host::alive;
use jolt_e2e::prometheus::{require_prometheus, Prometheus};

/// Serves one fixed `/metrics` page on 127.0.0.1 until dropped (and at
/// most for the test's timeout).
struct MetricsPage {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    server: Option<JoinHandle<()>>,
}

impl MetricsPage {
    fn serve(text: &'static str) -> MetricsPage {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let until = Instant::now() + jolt_e2e::timeout();
        let server = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) && Instant::now() < until {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                conn.set_nonblocking(false).unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
                let mut request = Vec::new();
                let mut buf = [0; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(n) if n > 0 => request.extend_from_slice(&buf[..n]),
                        _ => break,
                    }
                }
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        MetricsPage {
            addr,
            stop,
            server: Some(server),
        }
    }
}

impl Drop for MetricsPage {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.server.take().unwrap().join();
    }
}

#[test]
fn prometheus_scrapes_a_target_answers_queries_and_leaves_nothing() {
    if !require_prometheus() {
        return;
    }
    let page = MetricsPage::serve("# TYPE demo_value gauge\ndemo_value 42\n");

    let start = Instant::now();
    let prometheus = Prometheus::start(&page.addr.to_string(), Duration::from_millis(200)).unwrap();
    let ready = start.elapsed();
    prometheus.wait_scraped().unwrap();
    eprintln!(
        "prometheus: ready in {ready:?}, first scrape after {:?}",
        start.elapsed()
    );

    assert_eq!(prometheus.value("demo_value").unwrap(), 42.0);
    assert_eq!(prometheus.value(r#"up{job="joltd"}"#).unwrap(), 1.0);
    let missing = prometheus.value("no_such_metric").unwrap_err();
    assert!(missing.contains("not one sample: []"), "{missing}");
    let bad = prometheus.query("demo_value{").unwrap_err();
    assert!(bad.contains("bad_data"), "{bad}");
    assert!(prometheus
        .url()
        .starts_with(&format!("http://{}/api/v1/query", prometheus.listen())));

    let (pid, dir) = (prometheus.pid(), prometheus.dir().to_path_buf());
    drop(prometheus);
    assert!(!alive(pid), "prometheus {pid} is still alive");
    assert!(!dir.exists(), "{} is left", dir.display());
}
