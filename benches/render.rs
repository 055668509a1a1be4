//! Sheet rendering benchmark: N user sheets + N PC sheets through rdplay's `Renderer`, one after
//! the other on one thread (so the CPU time per sheet is the time per sheet per core), then the
//! two batch files (users.pdf, pcs.pdf) the way `rdplay run` writes them.
//!
//! `cargo bench --bench render -- [N...]` (default 50 200); `BENCH_FORMATS=pdf,png` picks the
//! formats (default `pdf`, the playbook's default). Prints one tab-separated line per N:
//! `render N formats sheets wall_ms cpu_ms cpu_ms_per_sheet batch_wall_ms batch_cpu_ms peak_rss_kb
//! sheets_peak_rss_kb`
//! (the process's peak RSS so far: run the sizes in increasing order) and `sheets_peak_rss_kb`
//! (the same, before the batch files), then one line of the
//! layouts a playbook may add at the end of a run, N PC labels on Avery L7160 sheets and N account
//! slips: `layouts N labels_wall_ms labels_cpu_ms slips_wall_ms slips_cpu_ms peak_rss_kb` (the
//! peak so far, batch files included).

use rdplay::facts::Facts;
use rdplay::render::{Format, PcSheet, Renderer, UserSheet};
use rdplay::secret::Secret;
use std::time::Instant;

/// This process's user + system CPU time in milliseconds (all threads), from /proc/self/stat.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Linux reports them in USER_HZ, 100 on every architecture rdplay runs on.
    (ticks(11) + ticks(12)) * 10.0
}

/// This process's peak resident set size so far (VmHWM), in kB.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn facts(i: usize) -> Facts {
    let json = format!(
        r#"{{"hostname":"pc{i}","os":"Debian GNU/Linux 12 (bookworm)","kernel":"6.1.0-26-amd64",
        "arch":"x86_64","cpu_model":"Intel(R) Core(TM) i5-8500 CPU @ 3.00GHz","cpu_cores":6,
        "memory_kib":16303104,"disks":[{{"name":"sda","size_bytes":256060514304,"model":"SAMSUNG MZ7LN256"}}],
        "interfaces":[{{"name":"eth0","mac":"52:54:00:00:{:02x}:{:02x}","addresses":["10.0.{}.{}/16"]}}],
        "dmi_vendor":"Dell Inc.","dmi_model":"OptiPlex 5060","dmi_serial":"ABC{i:04}",
        "uptime_seconds":12345,"logged_in":[]}}"#,
        i / 256,
        i % 256,
        i / 256,
        i % 256
    );
    serde_json::from_str(&json).expect("the benchmark's sample facts are valid")
}

fn sheets(n: usize) -> Vec<(UserSheet, PcSheet)> {
    (1..=n)
        .map(|i| {
            let f = facts(i);
            let mac = format!("52:54:00:00:{:02x}:{:02x}", i / 256, i % 256);
            let username = format!("USERBN{i:03}-4821");
            let request = format!("REQ-20261124-{i:06}");
            let user = UserSheet {
                username: username.clone(),
                password: Secret::new("Xq7#mPz9!kR2@wTe"),
                request: request.clone(),
                date: "2026-11-24".into(),
                site: "BN".into(),
                hostname: f.hostname.clone(),
                number: i as u32,
                ip: format!("10.0.{}.{}", i / 256, i % 256),
                mac: mac.clone(),
                shell: "/bin/bash".into(),
                facts: f.clone(),
                reprint: None,
            };
            let pc = PcSheet {
                hostname: f.hostname.clone(),
                number: i as u32,
                ip: user.ip.clone(),
                mac: mac.clone(),
                qr: mac,
                request,
                date: "2026-11-24".into(),
                site: "BN".into(),
                username,
                facts: f,
            };
            (user, pc)
        })
        .collect()
}

fn main() {
    rdplay::cli::tune_allocator();
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![50, 200]
    } else {
        sizes
    };
    let formats: Vec<Format> = std::env::var("BENCH_FORMATS")
        .unwrap_or_else(|_| "pdf".into())
        .split(',')
        .map(|f| match f.trim() {
            "png" => Format::Png,
            _ => Format::Pdf,
        })
        .collect();
    let names: Vec<&str> = formats.iter().map(|f| f.extension()).collect();
    let renderer = Renderer::new(None, None).expect("the built-in templates load");
    let dir = tempfile::tempdir().expect("a temporary directory");
    // Warm-up (fonts, first compilation): not counted.
    let warm = sheets(1);
    renderer
        .user_sheet(&warm[0].0, &formats, dir.path())
        .expect("warm-up user sheet");
    renderer
        .pc_sheet(&warm[0].1, &formats, dir.path())
        .expect("warm-up PC sheet");
    for n in sizes {
        let data = sheets(n);
        let out = dir.path().join(format!("n{n}"));
        let (t0, c0) = (Instant::now(), cpu_ms());
        for (user, pc) in &data {
            renderer
                .user_sheet(user, &formats, &out)
                .expect("user sheet");
            renderer.pc_sheet(pc, &formats, &out).expect("PC sheet");
        }
        let (wall, cpu) = (t0.elapsed().as_secs_f64() * 1000.0, cpu_ms() - c0);
        let sheets_peak = peak_rss_kb();
        let (users, pcs): (Vec<UserSheet>, Vec<PcSheet>) = data.into_iter().unzip();
        let (t1, c1) = (Instant::now(), cpu_ms());
        renderer
            .user_batch(&users, &out.join("users.pdf"))
            .expect("user batch");
        renderer
            .pc_batch(&pcs, &out.join("pcs.pdf"))
            .expect("PC batch");
        let (bwall, bcpu) = (t1.elapsed().as_secs_f64() * 1000.0, cpu_ms() - c1);
        let count = 2 * n;
        println!(
            "render\t{n}\t{}\t{count}\t{wall:.0}\t{cpu:.0}\t{:.1}\t{bwall:.0}\t{bcpu:.0}\t{}\t{sheets_peak}",
            names.join("+"),
            cpu / count as f64,
            peak_rss_kb()
        );
        let grid = rdplay::render::layout::preset("avery-l7160").expect("a built-in sheet");
        let (t2, c2) = (Instant::now(), cpu_ms());
        renderer
            .pc_labels(&pcs, &grid, 1, &out.join("labels.pdf"))
            .expect("labels");
        let (lwall, lcpu) = (t2.elapsed().as_secs_f64() * 1000.0, cpu_ms() - c2);
        let (t3, c3) = (Instant::now(), cpu_ms());
        renderer
            .user_slips(&users, &out.join("slips.pdf"))
            .expect("slips");
        let (swall, scpu) = (t3.elapsed().as_secs_f64() * 1000.0, cpu_ms() - c3);
        println!(
            "layouts\t{n}\t{lwall:.0}\t{lcpu:.0}\t{swall:.0}\t{scpu:.0}\t{}",
            peak_rss_kb()
        );
    }
}
