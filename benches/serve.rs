//! `grantlog serve` under load: evaluations per second and p50/p99 latency
//! over loopback, measured by `oha`, against the same server's HTTP floor
//! (`POST /bench/floor`: the same body read and parsed, a constant answer).
//!
//! Run with `benches/serve.sh` (it installs `oha` and builds the release
//! binary), or `cargo bench --bench serve` with `oha` on the PATH and
//! `target/release/grantlog` built. `GRANTLOG_BENCH_SIZES` (default `S,M`),
//! `GRANTLOG_SERVE_SECONDS` (default 10) and `GRANTLOG_SERVE_CONNECTIONS`
//! (default 16) set the sizes, each case's duration and the connections.
//! The figures go to `benches/results/serve.{txt,json}`.

use grantlog::workload::{Size, Workload};
use grantlog::Snapshot;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(binary: &Path, policy: &Path) -> Server {
    let mut child = Command::new(binary)
        .args([
            "serve",
            policy.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
            "--http-floor",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the release binary runs (cargo build --release)");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("the server starts").unwrap();
        if let Some((_, rest)) = line.split_once("serving ") {
            break rest.split(' ').next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Server { child, base }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn post(url: &str, body: &Value) -> Value {
    let mut r = agent().post(url).send_json(body).unwrap();
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
}

/// One oha run: requests per second, p50 and p99 in seconds.
fn oha(url: &str, body: &Path, seconds: u64, connections: u64) -> (f64, f64, f64) {
    let out = Command::new("oha")
        .args([
            "-z",
            &format!("{seconds}s"),
            "-c",
            &connections.to_string(),
            "--no-tui",
            "--output-format",
            "json",
            "-m",
            "POST",
            "-H",
            "content-type: application/json",
            "-D",
            body.to_str().unwrap(),
            url,
        ])
        .output()
        .expect("oha is on the PATH (benches/serve.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("oha's JSON");
    let statuses = &v["statusCodeDistribution"];
    assert!(
        statuses.as_object().unwrap().keys().all(|k| k == "200"),
        "every answer is a 200: {statuses}"
    );
    (
        v["summary"]["requestsPerSec"].as_f64().unwrap(),
        v["latencyPercentiles"]["p50"].as_f64().unwrap(),
        v["latencyPercentiles"]["p99"].as_f64().unwrap(),
    )
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the arguments.
    let sizes = env_or("GRANTLOG_BENCH_SIZES", "S,M");
    let seconds: u64 = env_or("GRANTLOG_SERVE_SECONDS", "10").parse().unwrap();
    let connections: u64 = env_or("GRANTLOG_SERVE_CONNECTIONS", "16").parse().unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let binary = root.join("target/release/grantlog");
    let work = root.join("target/serve-bench");
    std::fs::create_dir_all(&work).unwrap();
    let mut text = format!(
        "grantlog serve over loopback, oha -z {seconds}s -c {connections}, server and load generator on one {}-core machine\n\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    text.push_str(&format!(
        "{:<5} {:<28} {:>12} {:>14} {:>10} {:>10}\n",
        "size", "case", "requests/s", "decisions/s", "p50", "p99"
    ));
    let mut rows = Vec::new();
    for size_name in sizes.split(',').map(str::trim) {
        let size = Size::named(size_name).expect("sizes are S, M, L");
        let w = Workload::generate(size, 7, false);
        let policy = work.join(format!("{size_name}.policy"));
        std::fs::write(&policy, w.policy_text()).unwrap();
        let snapshot = Snapshot::from_paths(&[&policy]).unwrap();
        let m = snapshot.model();
        let requests: Vec<Value> = w
            .request_strings()
            .into_iter()
            .take(100)
            .map(|(p, a, r)| {
                let kind = m.principals[m.principal_named(&p).unwrap().index()].kind;
                let (ty, id) = r.split_once(':').unwrap();
                json!({
                    "subject": {"type": grantlog::serve::authzen::subject_type(kind), "id": p},
                    "action": {"name": a},
                    "resource": {"type": ty, "id": id},
                })
            })
            .collect();
        let expected: Vec<bool> = w
            .request_strings()
            .into_iter()
            .take(100)
            .map(|(p, a, r)| snapshot.check(&p, a, &r).is_allowed())
            .collect();
        let single = work.join(format!("{size_name}-single.json"));
        std::fs::write(&single, requests[0].to_string()).unwrap();
        let batch = work.join(format!("{size_name}-batch.json"));
        std::fs::write(&batch, json!({ "evaluations": requests }).to_string()).unwrap();

        let started = Instant::now();
        let server = start(&binary, &policy);
        let serving = started.elapsed();
        // Wait until every principal is warm: the figures are warm ones.
        loop {
            let mut r = agent()
                .get(format!("{}/healthz", server.base))
                .call()
                .unwrap();
            let h: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
            if h["warm"]["done"] == h["warm"]["total"] {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let warm = started.elapsed();
        // Every timed answer agrees with the library.
        let answers = post(
            &format!("{}/access/v1/evaluations", server.base),
            &json!({ "evaluations": requests }),
        );
        let got: Vec<bool> = answers["evaluations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["decision"].as_bool().unwrap())
            .collect();
        assert_eq!(got, expected, "the server agrees with the library");
        let one = post(
            &format!("{}/access/v1/evaluation", server.base),
            &requests[0],
        );
        assert_eq!(one, json!({ "decision": expected[0] }));

        let cases = [
            ("floor (constant answer)", "/bench/floor", &single, 1.0),
            ("evaluation", "/access/v1/evaluation", &single, 1.0),
            (
                "evaluations (batch of 100)",
                "/access/v1/evaluations",
                &batch,
                100.0,
            ),
        ];
        let mut measured = Vec::new();
        for (case, path, body, per) in cases {
            let url = format!("{}{path}", server.base);
            let (rps, p50, p99) = oha(&url, body, seconds, connections);
            text.push_str(&format!(
                "{:<5} {:<28} {:>12.0} {:>14.0} {:>8.0}µs {:>8.0}µs\n",
                size_name,
                case,
                rps,
                rps * per,
                p50 * 1e6,
                p99 * 1e6
            ));
            measured.push(rps * per);
            rows.push(json!({
                "size": size_name, "case": case, "requests_per_sec": rps,
                "decisions_per_sec": rps * per, "p50_us": p50 * 1e6, "p99_us": p99 * 1e6,
            }));
        }
        text.push_str(&format!(
            "{:<5} single evaluations reach {:.0}% of the floor's request rate; batches of 100 decide {:.1}x as many per second as single requests\n",
            size_name,
            100.0 * measured[1] / measured[0],
            measured[2] / measured[1]
        ));
        text.push_str(&format!(
            "{:<5} serving after {:.2} s, every principal warm after {:.2} s\n\n",
            size_name,
            serving.as_secs_f64(),
            warm.as_secs_f64()
        ));
        rows.push(json!({
            "size": size_name, "serving_after_s": serving.as_secs_f64(),
            "warm_after_s": warm.as_secs_f64(),
            "single_vs_floor": measured[1] / measured[0],
            "batch_vs_single": measured[2] / measured[1],
        }));
    }
    print!("{text}");
    let results = root.join("benches/results");
    std::fs::write(results.join("serve.txt"), &text).unwrap();
    std::fs::write(
        results.join("serve.json"),
        serde_json::to_string_pretty(&rows).unwrap() + "\n",
    )
    .unwrap();
}
