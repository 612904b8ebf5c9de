//! A real Prometheus server (Debian's `prometheus` package) on loopback, scraping a simulated
//! cluster's kubelet-style `/metrics/cadvisor` every second. Stopped by PID on drop.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RealPrometheus {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

impl RealPrometheus {
    /// Scrapes `target` (`host:port`, HTTPS with a self-signed certificate) with `token`.
    pub fn scraping(target: &str, token: &str) -> RealPrometheus {
        let dir = tempfile::Builder::new().prefix("klieg-prometheus-").tempdir().expect("temp dir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n  - job_name: kubelet\n    scheme: https\n    metrics_path: /metrics/cadvisor\n    honor_labels: true\n    authorization: {{credentials: {token}}}\n    tls_config: {{insecure_skip_verify: true}}\n    static_configs: [{{targets: ['{target}']}}]\n"
            ),
        )
        .expect("write the config");
        let port = free_port();
        let binary = std::env::var_os("PROMETHEUS").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("prometheus"));
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(dir.path().join("prometheus.log"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .spawn()
            .expect("start prometheus (Debian package `prometheus`; .ci/install-packages.sh installs it)");
        let prometheus = RealPrometheus { child, url: format!("http://127.0.0.1:{port}"), _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while prometheus.get("/-/ready").is_none_or(|(status, _)| status != 200) {
            assert!(Instant::now() < deadline, "prometheus never became ready");
            std::thread::sleep(Duration::from_millis(200));
        }
        prometheus
    }

    /// A plain HTTP GET: the status and the body.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        use std::io::{Read, Write};
        let address = self.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        let status = text.split_whitespace().nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        Some((status, body))
    }

    /// Waits until an instant query for `promql` has a result.
    pub fn wait_for_series(&self, promql: &str) {
        let query: String = promql
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some((200, body)) = self.get(&format!("/api/v1/query?query={query}"))
                && body.contains("\"value\"")
            {
                return;
            }
            assert!(Instant::now() < deadline, "no {promql} series scraped in time");
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for RealPrometheus {
    fn drop(&mut self) {
        // Our own child: stopped by its PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
