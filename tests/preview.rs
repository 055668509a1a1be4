//! `rdplay preview` of a site (its language and naming pattern), and `rdplay preview --serve`: the
//! live page in a real browser (Debian's chromium, headless), its PDF, and what it refuses.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use common::RDPLAY;
use common::browser::{Browser, artifacts};
use serde_json::{Value, json};

/// A site as `rdplay init --lang LANG` writes it: `renew.yml` and `templates/`.
fn site(lang: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(RDPLAY)
        .args(["init", "--lang", lang])
        .arg(dir.path())
        .output()
        .expect("rdplay init runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// Runs rdplay in `dir`; panics with its output when it fails.
fn rdplay(dir: &Path, args: &[&str]) {
    let out = Command::new(RDPLAY)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("rdplay runs");
    assert!(
        out.status.success(),
        "rdplay {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pdftotext(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) runs");
    assert!(out.status.success(), "pdftotext {}", pdf.display());
    String::from_utf8(out.stdout).expect("utf-8")
}

/// A running `rdplay preview --serve --no-open`, killed when dropped.
struct Serve {
    child: Child,
    url: String,
    port: u16,
    token: String,
}

impl Serve {
    /// Starts it in `dir` with `args` and waits (with a deadline) for the address it prints.
    fn start(dir: &Path, args: &[&str]) -> Serve {
        let mut child = Command::new(RDPLAY)
            .args(["preview", "--serve", "--no-open"])
            .args(args)
            .current_dir(dir)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("rdplay preview --serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = send.send(line);
            }
        });
        let url = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("rdplay preview --serve prints its address");
        let rest = url
            .strip_prefix("http://127.0.0.1:")
            .unwrap_or_else(|| panic!("{url} is not on 127.0.0.1"));
        let (port, token) = rest.split_once('/').expect("PORT/TOKEN/");
        Serve {
            port: port.parse().expect("a port"),
            token: token.trim_end_matches('/').to_string(),
            url: url.clone(),
            child,
        }
    }

    /// GET `path` (under the token) with the right `Host`.
    fn get(&self, path: &str) -> Response {
        http(
            self.port,
            &format!(
                "GET /{}/{path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                self.token, self.port
            ),
        )
    }

    fn state(&self) -> Value {
        serde_json::from_slice(&self.get("state").ok().body).expect("state is JSON")
    }

    fn post_sample(&self, changes: &Value) {
        let body = changes.to_string();
        let response = http(
            self.port,
            &format!(
                "POST /{}/sample HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                self.token,
                self.port,
                body.len()
            ),
        );
        assert_eq!(response.status, 204, "{response:?}");
    }

    /// Waits for a draw after `generation`, whose state `ready` accepts.
    fn wait_state(&self, generation: u64, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let state = self.state();
            if state["generation"].as_u64() > Some(generation) && ready(&state) {
                return state;
            }
            assert!(Instant::now() < deadline, "no such draw came: {state:#}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn ok(self) -> Response {
        assert_eq!(self.status, 200, "{}", String::from_utf8_lossy(&self.body));
        self
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One raw HTTP request to 127.0.0.1:`port`, read to the end (the request says `close`).
fn http(port: u16, request: &str) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the answer");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

#[test]
fn preview_of_a_site_takes_its_language_and_naming_pattern() {
    let dir = site("fr");
    let pattern = regex::Regex::new(r"USERSS001-[0-9]{4}").unwrap();
    // The site's own user sheet, and a template named with the site's playbook.
    for args in [
        &["preview", "--playbook", "renew.yml", "-o", "u.pdf"][..],
        &[
            "preview",
            "templates/user-sheet.typ",
            "--playbook",
            "renew.yml",
            "-o",
            "u.pdf",
        ],
    ] {
        rdplay(dir.path(), args);
        let text = pdftotext(&dir.path().join("u.pdf"));
        assert!(text.contains("Votre compte informatique"), "{text}");
        assert!(
            pattern.is_match(&text),
            "no name of the site's pattern: {text}"
        );
    }
    // --lang still wins; without the playbook, the sample as before.
    rdplay(
        dir.path(),
        &[
            "preview",
            "--playbook",
            "renew.yml",
            "--lang",
            "en",
            "--kind",
            "pc",
            "-o",
            "p.pdf",
        ],
    );
    let text = pdftotext(&dir.path().join("p.pdf"));
    assert!(text.contains("pc12") && pattern.is_match(&text), "{text}");
    rdplay(
        dir.path(),
        &["preview", "templates/user-sheet.typ", "-o", "u.pdf"],
    );
    let text = pdftotext(&dir.path().join("u.pdf"));
    assert!(
        text.contains("Your computer account") && text.contains("USERSS006-1291"),
        "{text}"
    );
}

#[test]
fn a_request_without_the_token_or_with_another_host_gets_nothing() {
    let dir = site("en");
    let serve = Serve::start(dir.path(), &["--playbook", "renew.yml"]);
    let (port, token) = (serve.port, serve.token.clone());
    assert!(token.len() >= 43, "a short token: {token}");
    let request = |path: &str, host: &str| {
        http(
            port,
            &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        )
    };
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let page = request(&format!("/{token}/"), &host).ok();
        assert!(String::from_utf8_lossy(&page.body).contains("live preview"));
        assert!(page.header("content-security-policy").is_some());
        assert_eq!(page.header("cache-control"), Some("no-store"));
    }
    // Another host name (DNS rebinding), another port, no Host at all: 403, nothing in it.
    let other_port = format!("127.0.0.1:{}", port.wrapping_add(1));
    for host in [
        format!("rebind.example:{port}"),
        other_port,
        "127.0.0.1".to_string(),
    ] {
        for path in [format!("/{token}/"), format!("/{token}/state"), "/".into()] {
            let answer = request(&path, &host);
            assert_eq!(
                (answer.status, answer.body.len()),
                (403, 0),
                "{host} {path}"
            );
        }
    }
    let answer = http(port, &format!("GET /{token}/state HTTP/1.0\r\n\r\n"));
    assert_eq!((answer.status, answer.body.len()), (403, 0));
    // Our host, but no token, a wrong one, a token one character off, or nothing behind it: 404.
    let mut off = token.clone().into_bytes();
    off[20] = if off[20] == b'a' { b'b' } else { b'a' };
    let off = String::from_utf8(off).unwrap();
    let host = format!("127.0.0.1:{port}");
    for path in [
        "/".to_string(),
        "/state".into(),
        "/sheet/0/pdf".into(),
        format!("/{off}/"),
        format!("/{off}/sheet/0/pdf"),
        format!("/x{token}/"),
        format!("/{token}/nothing"),
        format!("/{token}/sheet/9/pdf"),
    ] {
        let answer = request(&path, &host);
        assert_eq!((answer.status, answer.body.len()), (404, 0), "{path}");
    }
    let post = http(
        port,
        &format!(
            "POST /{token}/sample HTTP/1.1\r\nHost: rebind.example:{port}\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        ),
    );
    assert_eq!((post.status, post.body.len()), (403, 0));
}

#[test]
fn the_pdf_download_is_the_file_rdplay_preview_writes() {
    let dir = site("fr");
    let serve = Serve::start(dir.path(), &["--playbook", "renew.yml"]);
    let state = serve.state();
    let kinds: Vec<&str> = state["sheets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["user-sheet", "pc-sheet", "pc-labels", "user-slips"]);
    // Long values, and more labels than one sheet of them holds.
    serve.post_sample(&json!({ "username": "A-VERY-LONG-ACCOUNT-NAME-123", "labels": 30 }));
    serve.wait_state(state["generation"].as_u64().unwrap(), |s| {
        s["sample"]["username"] == "A-VERY-LONG-ACCOUNT-NAME-123"
            && s["sheets"][2]["pages"].as_array().unwrap().len() == 2
    });
    for (index, kind) in [(0, "user"), (2, "labels"), (3, "slips")] {
        let data = serve.get(&format!("sheet/{index}/data.json")).ok().body;
        std::fs::write(dir.path().join("data.json"), data).unwrap();
        let pdf = serve.get(&format!("sheet/{index}/pdf")).ok();
        assert_eq!(pdf.header("content-type"), Some("application/pdf"));
        assert!(pdf.header("content-disposition").unwrap().contains(".pdf"));
        rdplay(
            dir.path(),
            &[
                "preview",
                "--playbook",
                "renew.yml",
                "--kind",
                kind,
                "--data",
                "data.json",
                "-o",
                "cli.pdf",
            ],
        );
        let cli = std::fs::read(dir.path().join("cli.pdf")).unwrap();
        assert!(
            pdf.body == cli,
            "the {kind} PDF differs from rdplay preview's"
        );
        let text = pdftotext(&dir.path().join("cli.pdf"));
        if kind != "labels" {
            assert!(text.contains("A-VERY-LONG-ACCOUNT-NAME-123"), "{text}");
        }
    }
}

#[test]
fn a_change_to_a_picture_or_a_word_file_is_drawn_again() {
    let dir = site("en");
    let templates = dir.path().join("templates");
    let logo = |colour: &str| {
        format!(
            "<svg xmlns='http://www.w3.org/2000/svg' width='40' height='20'>\
             <rect width='40' height='20' fill='{colour}'/></svg>"
        )
    };
    std::fs::write(templates.join("logo.svg"), logo("red")).unwrap();
    let sheet = std::fs::read_to_string(templates.join("user-sheet.typ")).unwrap();
    let with_logo = sheet.replace(
        "// #place(top + right, image(\"logo.png\", height: 1.4cm))",
        "#place(top + right, image(\"logo.svg\", height: 1.4cm))",
    );
    assert_ne!(sheet, with_logo, "the template changed: update the test");
    std::fs::write(templates.join("user-sheet.typ"), with_logo).unwrap();
    let serve = Serve::start(dir.path(), &["--playbook", "renew.yml"]);
    let before = serve.state();
    let drawn = |s: &Value, i: usize| s["sheets"][i]["drawn"].as_u64().unwrap();
    let red = serve.get("sheet/0/page/1").ok().body;

    // The picture, saved again in another colour: the user sheet is new, the PC sheet the same.
    save(&templates.join("logo.svg"), &logo("blue"));
    let after = serve.wait_state(before["generation"].as_u64().unwrap(), |s| {
        drawn(s, 0) > drawn(&before, 0)
    });
    assert_eq!(
        drawn(&after, 1),
        drawn(&before, 1),
        "the PC sheet was fetched again"
    );
    assert_ne!(serve.get("sheet/0/page/1").ok().body, red);

    // A word of the language file.
    let words = std::fs::read_to_string(templates.join("lang/en.json")).unwrap();
    let renamed = words.replace("Your computer account", "Your school account");
    assert_ne!(words, renamed, "the words changed: update the test");
    std::fs::write(templates.join("lang/en.json"), renamed).unwrap();
    serve.wait_state(after["generation"].as_u64().unwrap(), |s| {
        s["sheets"][0]["pages"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Your school account"))
    });
}

/// The user sheet's pages on the page, as their alternative text (the text on each page).
const USER_TEXT: &str =
    "[...document.querySelectorAll('#sheet-0 .pages img')].map(i => i.alt).join(' ')";
/// The user sheet's error box, when shown.
const USER_ERROR: &str =
    "(e => e.hidden ? '' : e.textContent)(document.querySelector('#sheet-0 .error'))";

/// Writes `text` to `path` as editors save: a new file renamed over the old one.
fn save(path: &Path, text: &str) {
    let tmp = path.with_file_name(".save.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn the_live_page_follows_the_template_and_the_sample_values() {
    let shots = artifacts("preview-serve");
    let mut log = String::new();
    let dir = site("fr");
    let template: PathBuf = dir.path().join("templates/user-sheet.typ");
    let original = std::fs::read_to_string(&template).unwrap();
    let serve = Serve::start(dir.path(), &["--playbook", "renew.yml"]);
    let browser = Browser::start();
    let tab = browser.open(&serve.url, 1400, 1000);
    let wait = Duration::from_secs(15);
    let shown = |what: &str| format!("{USER_TEXT}.includes({})", json!(what));
    tab.wait_for(&shown("Votre compte informatique"), USER_TEXT, wait);
    tab.wait_for(
        "[...document.querySelectorAll('.sheet')].every(s => s.dataset.drawn !== '0')",
        "[...document.querySelectorAll('.sheet')].map(s => s.dataset.drawn)",
        wait,
    );
    // Real size: an A5 page is 148 mm wide, 559 CSS pixels at 96 per inch.
    let width =
        tab.eval("document.querySelector('#sheet-0 .pages img').getBoundingClientRect().width");
    assert!((width.as_f64().unwrap() - 559.4).abs() < 1.0, "{width}");
    tab.screenshot(&shots.join("1-opened.png"));

    // An edit of the template, saved: the page shows it without a reload.
    let anchor = "#label[#organisation · #data.site]";
    assert!(
        original.contains(anchor),
        "the template changed: update the test"
    );
    let edited = original.replace(
        anchor,
        "#label[#organisation · #data.site · Bureau 42 des profs]",
    );
    let saved = Instant::now();
    save(&template, &edited);
    tab.wait_for(&shown("Bureau 42 des profs"), USER_TEXT, wait);
    let took = saved.elapsed();
    log.push_str(&format!(
        "save -> new page shown: {} ms\n",
        took.as_millis()
    ));
    tab.screenshot(&shots.join("2-edited.png"));

    // A mistake: the error in words, where it is, and the last good pages stay.
    let broken = edited.replace("Bureau 42 des profs]", "Bureau #nosuchthing]");
    let line = broken
        .lines()
        .position(|l| l.contains("#nosuchthing"))
        .unwrap()
        + 1;
    let saved = Instant::now();
    std::fs::write(&template, &broken).unwrap();
    tab.wait_for(
        &format!("{USER_ERROR}.includes('user-sheet.typ:{line}:')"),
        USER_ERROR,
        wait,
    );
    log.push_str(&format!(
        "save -> error shown: {} ms\n",
        saved.elapsed().as_millis()
    ));
    let error = tab.eval(USER_ERROR).as_str().unwrap().to_string();
    assert!(error.contains("unknown variable: nosuchthing"), "{error}");
    assert!(
        error.contains(&format!("{line} | #label[#organisation")),
        "{error}"
    );
    assert!(error.contains("^^^^^^^^^^^"), "{error}");
    assert!(
        tab.eval(&shown("Bureau 42 des profs")) == json!(true),
        "the last good render is gone"
    );
    tab.eval("document.querySelector('#sheet-0').scrollIntoView()");
    tab.screenshot(&shots.join("3-error.png"));

    // Fixed: the sheet again, the error gone.
    save(&template, &edited.replace("Bureau 42", "Bureau 43"));
    tab.wait_for(
        &format!("{} && {USER_ERROR} === ''", shown("Bureau 43 des profs")),
        USER_ERROR,
        wait,
    );
    tab.screenshot(&shots.join("4-fixed.png"));

    // Sample values typed into the form: a long name, English, two sheets of labels.
    tab.eval("(i => { i.focus(); i.select() })(document.getElementById('username'))");
    tab.type_text("PRENOM-NOM-TRES-LONG-2026");
    let typed = Instant::now();
    tab.wait_for(&shown("PRENOM-NOM-TRES-LONG-2026"), USER_TEXT, wait);
    log.push_str(&format!(
        "typed -> new page shown: {} ms\n",
        typed.elapsed().as_millis()
    ));
    tab.eval("(s => { s.value = 'en'; s.dispatchEvent(new Event('input', {bubbles: true})) })(document.getElementById('lang'))");
    tab.wait_for(&shown("Your computer account"), USER_TEXT, wait);
    tab.eval("(i => { i.focus(); i.select() })(document.getElementById('labels'))");
    tab.type_text("30");
    tab.wait_for(
        "document.querySelectorAll('#sheet-2 .pages img').length === 2",
        "document.querySelectorAll('#sheet-2 .pages img').length",
        wait,
    );
    tab.eval("window.scrollTo(0, 0)");
    tab.screenshot(&shots.join("5-sample-values.png"));
    std::fs::write(shots.join("timings.txt"), &log).unwrap();
    eprint!("{log}");
    assert!(
        took < Duration::from_secs(2),
        "the page took {took:?} to show a saved change"
    );
}
