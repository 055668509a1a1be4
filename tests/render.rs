//! Sheets as a person gets them: rendered through the library and through `rdplay preview`, then
//! read back with the tools a person's computer has (pdftotext, zbarimg).

mod common;

use common::snapshot::Redact;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use rdplay::facts::{Disk, Facts};
use rdplay::render::{
    Format, PcSheet, Renderer, UserSheet, default_template_files, remove_user_sheets,
};
use rdplay::secret::Secret;

const PASSWORD: &str = "Tq7m-Kx4pW9zR";

fn facts() -> Facts {
    Facts {
        hostname: "pc12".into(),
        os: Some("Debian GNU/Linux 12 (bookworm)".into()),
        cpu_model: Some("Intel(R) Core(TM) i5-8500".into()),
        memory_kib: Some(8_052_316),
        disks: vec![Disk {
            name: "sda".into(),
            size_bytes: 256_060_514_304,
            model: None,
        }],
        dmi_vendor: Some("Dell Inc.".into()),
        dmi_model: None,
        ..Facts::default()
    }
}

fn user(username: &str, hostname: &str) -> UserSheet {
    UserSheet {
        username: username.into(),
        password: Secret::new(PASSWORD),
        request: "SS006-1291".into(),
        date: "2025-11-24".into(),
        site: "Room 12".into(),
        hostname: hostname.into(),
        number: 12,
        ip: "10.20.0.12".into(),
        mac: "08:00:27:ea:fa:15".into(),
        shell: "/bin/bash".into(),
        facts: facts(),
        reprint: None,
    }
}

fn pc(mac: &str) -> PcSheet {
    PcSheet {
        hostname: "pc12".into(),
        number: 12,
        ip: "10.20.0.12".into(),
        mac: mac.into(),
        qr: mac.into(),
        request: "SS006-1291".into(),
        date: "2025-11-24".into(),
        site: "Room 12".into(),
        username: "USERSS006-1291".into(),
        facts: facts(),
    }
}

fn builtin() -> Renderer {
    Renderer::new(None, None).expect("built-in templates load")
}

/// The text layer of a PDF, as `pdftotext -layout` gives it.
fn pdftotext(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) runs");
    assert!(
        out.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 text")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

fn rdplay(args: &[&str], cwd: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rdplay"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("rdplay runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A copy of the built-in templates in a temporary directory, as `rdplay init` writes them.
fn templates_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (rel, contents) in default_template_files() {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(&path, contents).expect("write");
    }
    let templates = dir.path().join("templates");
    (dir, templates)
}

#[test]
fn user_sheet_pdf_holds_username_and_exact_password() {
    let out = tempfile::tempdir().unwrap();
    let paths = builtin()
        .user_sheet(
            &user("USERSS006-1291", "pc12"),
            &[Format::Pdf, Format::Png],
            out.path(),
        )
        .unwrap();
    let users = out.path().join("users");
    assert_eq!(
        paths,
        vec![
            users.join("USERSS006-1291.pdf"),
            users.join("USERSS006-1291.png")
        ]
    );
    let text = pdftotext(&paths[0]);
    assert!(text.contains("USERSS006-1291"), "{text}");
    assert!(
        text.lines().any(|l| l.trim() == PASSWORD),
        "the password alone on its line:\n{text}"
    );
    assert!(std::fs::read(&paths[1]).unwrap().starts_with(b"\x89PNG"));
    // Fonts are embedded (subset) in the PDF.
    let fonts = Command::new("pdffonts").arg(&paths[0]).output().unwrap();
    let fonts = String::from_utf8_lossy(&fonts.stdout);
    assert!(fonts.contains("DejaVuSansMono"), "{fonts}");
    assert!(
        fonts.lines().skip(2).all(|l| l.contains(" yes ")),
        "every font embedded:\n{fonts}"
    );
}

#[test]
fn files_are_0600_in_0700_directories() {
    let out = tempfile::tempdir().unwrap();
    let renderer = builtin();
    let user_paths = renderer
        .user_sheet(&user("U1", "pc1"), &[Format::Pdf], out.path())
        .unwrap();
    let pc_paths = renderer
        .pc_sheet(
            &pc("08:00:27:EA:FA:15"),
            &[Format::Pdf, Format::Png],
            out.path(),
        )
        .unwrap();
    assert_eq!(pc_paths[0], out.path().join("pcs/080027eafa15.pdf"));
    renderer
        .user_batch(&[user("U1", "pc1")], &out.path().join("batch/users.pdf"))
        .unwrap();
    for dir in ["users", "pcs", "batch"] {
        assert_eq!(mode(&out.path().join(dir)), 0o700, "{dir}");
    }
    for file in user_paths
        .iter()
        .chain(&pc_paths)
        .chain([&out.path().join("batch/users.pdf")])
    {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
}

#[test]
fn pc_sheet_qr_code_reads_back_as_the_mac() {
    let out = tempfile::tempdir().unwrap();
    let paths = builtin()
        .pc_sheet(&pc("08:00:27:ea:fa:15"), &[Format::Png], out.path())
        .unwrap();
    let scan = Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(&paths[0])
        .output()
        .expect("zbarimg runs");
    assert!(
        scan.status.success(),
        "{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&scan.stdout).trim(),
        "08:00:27:ea:fa:15"
    );
}

#[test]
fn hostile_values_print_literally() {
    let hostile = [
        r#"#panic("x")"#,
        "]",
        "*bold*",
        "$math$",
        "#{1+1}",
        "\\",
        "/* c",
        "<label>",
        "@ref",
    ];
    let out = tempfile::tempdir().unwrap();
    let renderer = builtin();
    let mut sheet = user("USERSS006-1291", &hostile.join(" "));
    sheet.site = hostile.join(" ");
    sheet.facts.os = Some("#set page(width: 1pt)".into());
    let paths = renderer
        .user_sheet(&sheet, &[Format::Pdf], out.path())
        .unwrap();
    let text = pdftotext(&paths[0]);
    for value in hostile {
        assert!(text.contains(value), "{value:?} missing from:\n{text}");
    }
    assert!(text.contains("#set page(width: 1pt)"), "{text}");
    let mut sheet = pc("08:00:27:ea:fa:15");
    sheet.hostname = r#"#panic("x")"#.into();
    let paths = renderer
        .pc_sheet(&sheet, &[Format::Pdf], out.path())
        .unwrap();
    assert!(pdftotext(&paths[0]).contains(r#"#panic("x")"#));
}

#[test]
fn a_missing_fact_prints_a_dash() {
    let out = tempfile::tempdir().unwrap();
    let mut sheet = pc("08:00:27:ea:fa:15");
    sheet.facts = Facts {
        hostname: "pc12".into(),
        ..Facts::default()
    };
    let paths = builtin()
        .pc_sheet(&sheet, &[Format::Pdf], out.path())
        .unwrap();
    assert!(pdftotext(&paths[0]).contains('—'));
}

#[test]
/// A batch larger than one part (rdplay lays out 50 sheets at a time and joins the parts): every
/// sheet once, in order, in a PDF that poppler reads without a complaint.
fn batch_pdf_has_every_sheet_in_order() {
    let out = tempfile::tempdir().unwrap();
    let renderer = builtin();
    let sheets: Vec<_> = (1..=123)
        .map(|i| user(&format!("USERSS006-{i:04}"), &format!("pc{i}")))
        .collect();
    let path = out.path().join("users.pdf");
    renderer.user_batch(&sheets, &path).unwrap();
    let info = Command::new("pdfinfo")
        .arg(&path)
        .output()
        .expect("pdfinfo (poppler-utils) runs");
    let stdout = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.status.success() && info.stderr.is_empty(),
        "{stdout}{}",
        String::from_utf8_lossy(&info.stderr)
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.split_whitespace().eq(["Pages:", "123"])),
        "{stdout}"
    );
    let text = pdftotext(&path);
    let pages: Vec<&str> = text
        .split('\x0c')
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert_eq!(pages.len(), 123, "{text}");
    for (i, page) in pages.iter().enumerate() {
        assert!(
            page.contains(&format!("USERSS006-{:04}", i + 1)),
            "page {i}: {page}"
        );
    }
    let pcs: Vec<_> = ["08:00:27:00:00:01", "08:00:27:00:00:02"]
        .into_iter()
        .map(pc)
        .collect();
    renderer
        .pc_batch(&pcs, &out.path().join("pcs.pdf"))
        .unwrap();
    let text = pdftotext(&out.path().join("pcs.pdf"));
    let first = text.find("08:00:27:00:00:01").unwrap();
    let second = text.find("08:00:27:00:00:02").unwrap();
    assert!(first < second, "{text}");
}

#[test]
fn user_sheets_of_a_deleted_account_go() {
    let out = tempfile::tempdir().unwrap();
    let renderer = builtin();
    renderer
        .user_sheet(
            &user("OLD-1", "pc1"),
            &[Format::Pdf, Format::Png],
            out.path(),
        )
        .unwrap();
    renderer
        .user_sheet(&user("NEW-1", "pc1"), &[Format::Pdf], out.path())
        .unwrap();
    let removed = remove_user_sheets(out.path(), "OLD-1").unwrap();
    assert_eq!(removed.len(), 2);
    assert!(out.path().join("users/NEW-1.pdf").exists());
    assert!(!out.path().join("users/OLD-1.pdf").exists());
}

#[test]
fn a_username_that_is_a_path_is_refused() {
    let out = tempfile::tempdir().unwrap();
    let err = builtin()
        .user_sheet(&user("../../etc/x", "pc1"), &[Format::Pdf], out.path())
        .unwrap_err();
    assert!(
        err.to_string().contains("cannot name a sheet file"),
        "{err}"
    );
    assert!(!out.path().join("users").exists());
}

/// Replaces the temporary directory in messages.
#[test]
fn a_broken_template_points_at_its_line() {
    let (dir, templates) = templates_dir();
    let path = templates.join("user-sheet.typ");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "#label(words.user_name)",
        "#label(words.user_name)\n#data.usernam",
    );
    std::fs::write(&path, text).unwrap();
    let err = match Renderer::new(Some(&path), None).unwrap().check() {
        Err(e) => e.to_string(),
        Ok(()) => panic!("a template with a misspelt field compiled"),
    };
    insta::assert_snapshot!(
        "missing_field",
        Redact::new().path(dir.path(), "[DIR]").apply(&err)
    );

    std::fs::write(
        &path,
        "#let data = json(\"data.json\")\n\n#text(size: 12pt[#data.username]\n",
    )
    .unwrap();
    let err = match Renderer::new(Some(&path), None).unwrap().check() {
        Err(e) => e.to_string(),
        Ok(()) => panic!("a template with a syntax error compiled"),
    };
    insta::assert_snapshot!(
        "syntax_error",
        Redact::new().path(dir.path(), "[DIR]").apply(&err)
    );
}

#[test]
fn a_template_error_never_shows_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user-sheet.typ");
    std::fs::write(
        &path,
        "#let data = json(\"data.json\")\n#assert.eq(data.password, \"guess\")\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let err = Renderer::new(Some(&path), None)
        .unwrap()
        .user_sheet(&user("U1", "pc1"), &[Format::Pdf], out.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("user-sheet.typ:2:"), "{err}");
    assert!(!err.contains(PASSWORD) && err.contains("********"), "{err}");
}

#[test]
fn templates_cannot_read_outside_their_directory() {
    let (dir, templates) = templates_dir();
    std::fs::write(dir.path().join("outside.txt"), "secret").unwrap();
    let path = templates.join("pc-sheet.typ");
    std::fs::write(
        &path,
        "#read(\"../outside.txt\")\n#import \"@preview/x:0.1.0\"\n",
    )
    .unwrap();
    let err = Renderer::new(None, Some(&path))
        .unwrap()
        .check()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("access denied") && err.contains("pc-sheet.typ:1:"),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
}

#[test]
fn check_accepts_the_built_in_and_written_out_templates() {
    builtin().check().unwrap();
    let (_dir, templates) = templates_dir();
    Renderer::new(
        Some(&templates.join("user-sheet.typ")),
        Some(&templates.join("pc-sheet.typ")),
    )
    .unwrap()
    .check()
    .unwrap();
}

#[test]
fn a_logo_beside_the_template_is_placed() {
    let (_dir, templates) = templates_dir();
    std::fs::write(
        templates.join("logo.svg"),
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="red"/></svg>"#,
    )
    .unwrap();
    let path = templates.join("user-sheet.typ");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "// #place(top + right, image(\"logo.png\"",
        "#place(top + right, image(\"logo.svg\"",
    );
    std::fs::write(&path, text).unwrap();
    let out = tempfile::tempdir().unwrap();
    let png = Renderer::new(Some(&path), None)
        .unwrap()
        .user_sheet(&user("U1", "pc1"), &[Format::Png], out.path())
        .unwrap();
    let image = resvg::tiny_skia::Pixmap::load_png(&png[0]).unwrap();
    let red = image
        .pixels()
        .iter()
        .filter(|p| p.red() > 200 && p.green() < 50 && p.blue() < 50)
        .count();
    assert!(red > 1000, "the red logo shows ({red} red pixels)");
}

/// The built-in user sheet looks as it did: compared at 1/8 scale, each cell's grey level may
/// differ by a little (anti-aliasing, font hinting) and only a few cells may differ more.
#[test]
fn user_sheet_png_matches_the_reference() {
    let out = tempfile::tempdir().unwrap();
    let png = builtin()
        .user_sheet(&user("USERSS006-1291", "pc12"), &[Format::Png], out.path())
        .unwrap();
    let actual = downscale(&resvg::tiny_skia::Pixmap::load_png(&png[0]).unwrap(), 8);
    let reference_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/user-sheet.reference.png");
    if std::env::var_os("RDPLAY_UPDATE_REFERENCE").is_some() {
        let mut pixmap = resvg::tiny_skia::Pixmap::new(actual.width, actual.height).unwrap();
        for (pixel, &grey) in pixmap.pixels_mut().iter_mut().zip(&actual.grey) {
            *pixel =
                resvg::tiny_skia::PremultipliedColorU8::from_rgba(grey, grey, grey, 255).unwrap();
        }
        pixmap.save_png(&reference_path).unwrap();
    }
    let reference = resvg::tiny_skia::Pixmap::load_png(&reference_path)
        .expect("reference PNG (regenerate with RDPLAY_UPDATE_REFERENCE=1)");
    assert_eq!(
        (actual.width, actual.height),
        (reference.width(), reference.height()),
        "page size changed"
    );
    let far = actual
        .grey
        .iter()
        .zip(reference.pixels())
        .filter(|(a, r)| a.abs_diff(r.red()) > 24)
        .count();
    assert!(
        far * 200 <= actual.grey.len(),
        "{far} of {} cells differ from the reference",
        actual.grey.len()
    );
}

/// Grey levels averaged over `factor`×`factor` blocks.
struct Grey {
    width: u32,
    height: u32,
    grey: Vec<u8>,
}

fn downscale(image: &resvg::tiny_skia::Pixmap, factor: u32) -> Grey {
    let (width, height) = (image.width() / factor, image.height() / factor);
    let mut grey = Vec::with_capacity((width * height) as usize);
    for by in 0..height {
        for bx in 0..width {
            let mut sum = 0u32;
            for y in by * factor..(by + 1) * factor {
                for x in bx * factor..(bx + 1) * factor {
                    let p = image.pixel(x, y).unwrap().demultiply();
                    sum += (u32::from(p.red()) + u32::from(p.green()) + u32::from(p.blue())) / 3;
                }
            }
            grey.push((sum / (factor * factor)) as u8);
        }
    }
    Grey {
        width,
        height,
        grey,
    }
}

#[test]
fn sheets_render_in_parallel_from_one_renderer() {
    let out = tempfile::tempdir().unwrap();
    let renderer = Arc::new(builtin());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let renderer = Arc::clone(&renderer);
            let dir = out.path().to_path_buf();
            std::thread::spawn(move || {
                renderer
                    .user_sheet(&user(&format!("U{i}"), "pc"), &[Format::Pdf], &dir)
                    .unwrap()
            })
        })
        .collect();
    for (i, handle) in handles.into_iter().enumerate() {
        let paths = handle.join().unwrap();
        assert!(pdftotext(&paths[0]).contains(&format!("U{i}")));
    }
}

#[test]
fn preview_renders_the_sample_data() {
    let (dir, templates) = templates_dir();
    let (ok, stderr) = rdplay(
        &["preview", "templates/user-sheet.typ", "-o", "u.pdf"],
        dir.path(),
    );
    assert!(ok, "{stderr}");
    assert_eq!(stderr.trim(), "wrote u.pdf");
    let text = pdftotext(&dir.path().join("u.pdf"));
    assert!(
        text.contains("USERSS006-1291") && text.contains("Tq7m-Kx4pW9zR"),
        "{text}"
    );
    assert_eq!(mode(&dir.path().join("u.pdf")), 0o600);

    let (ok, stderr) = rdplay(
        &["preview", "templates/pc-sheet.typ", "-o", "p.png"],
        dir.path(),
    );
    assert!(ok, "{stderr}");
    let scan = Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(dir.path().join("p.png"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&scan.stdout).trim(),
        "08:00:27:ea:fa:15"
    );

    // Given data; the kind comes from the data when the file name does not tell.
    std::fs::copy(templates.join("pc-sheet.typ"), templates.join("label.typ")).unwrap();
    let data = std::fs::read_to_string(templates.join("sample/pc-sheet.json"))
        .unwrap()
        .replace("pc12", "lab-pc-99");
    std::fs::write(dir.path().join("mine.json"), data).unwrap();
    let (ok, stderr) = rdplay(
        &[
            "preview",
            "templates/label.typ",
            "--data",
            "mine.json",
            "-o",
            "l.pdf",
        ],
        dir.path(),
    );
    assert!(ok, "{stderr}");
    assert!(pdftotext(&dir.path().join("l.pdf")).contains("lab-pc-99"));
}

#[test]
fn preview_errors_say_what_to_do() {
    let (dir, templates) = templates_dir();
    std::fs::copy(templates.join("pc-sheet.typ"), templates.join("label.typ")).unwrap();
    let mut report = String::new();
    for args in [
        &["preview", "templates/user-sheet.typ", "-o", "out.txt"][..],
        &["preview", "templates/label.typ", "-o", "out.pdf"],
        &["preview", "templates/missing.typ", "-o", "out.pdf"],
        &[
            "preview",
            "templates/user-sheet.typ",
            "--data",
            "nope.json",
            "-o",
            "out.pdf",
        ],
    ] {
        let (ok, stderr) = rdplay(args, dir.path());
        assert!(!ok);
        report.push_str(&format!("$ rdplay {}\n{stderr}\n", args.join(" ")));
    }
    std::fs::write(
        templates.join("user-sheet.typ"),
        "#let data = json(\"data.json\")\nHello #data.nickname\n",
    )
    .unwrap();
    let (ok, stderr) = rdplay(
        &["preview", "templates/user-sheet.typ", "-o", "out.pdf"],
        dir.path(),
    );
    assert!(!ok);
    report.push_str(&format!(
        "$ rdplay preview templates/user-sheet.typ -o out.pdf\n{stderr}"
    ));
    insta::assert_snapshot!("preview_errors", report);
    assert!(!dir.path().join("out.pdf").exists());
}

/// Milliseconds per sheet on one core, PDF and PNG. Run with
/// `cargo test --release --test render -- --ignored --nocapture bench`.
#[test]
#[ignore = "benchmark: run on demand"]
fn bench_ms_per_sheet_per_core() {
    let renderer = builtin();
    let out = tempfile::tempdir().unwrap();
    let n = 60;
    for (name, formats) in [
        ("pdf", &[Format::Pdf][..]),
        ("png", &[Format::Png]),
        ("pdf+png", &[Format::Pdf, Format::Png]),
    ] {
        renderer
            .user_sheet(&user("WARM", "pc0"), formats, out.path())
            .unwrap();
        let start = Instant::now();
        for i in 0..n {
            renderer
                .user_sheet(
                    &user(&format!("U{i}"), &format!("pc{i}")),
                    formats,
                    out.path(),
                )
                .unwrap();
        }
        let user_ms = start.elapsed().as_secs_f64() * 1000.0 / f64::from(n);
        let start = Instant::now();
        for i in 0..n {
            renderer
                .pc_sheet(&pc(&format!("08:00:27:00:00:{i:02x}")), formats, out.path())
                .unwrap();
        }
        let pc_ms = start.elapsed().as_secs_f64() * 1000.0 / f64::from(n);
        println!(
            "{name:8} user sheet {user_ms:6.1} ms   pc sheet {pc_ms:6.1} ms   (one core, {n} sheets)"
        );
    }
    let sheets: Vec<_> = (0..n)
        .map(|i| user(&format!("B{i}"), &format!("pc{i}")))
        .collect();
    let start = Instant::now();
    renderer
        .user_batch(&sheets, &out.path().join("users.pdf"))
        .unwrap();
    let ms = start.elapsed().as_secs_f64() * 1000.0 / f64::from(n);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!("batch    user sheets {ms:6.1} ms per sheet (wall clock, {cores} cores, one PDF)");
}

/// A template whose directory has `fonts/` may use those fonts, embedded in the PDF; a family found
/// nowhere is an error naming it and the places searched.
#[test]
fn fonts_beside_the_template_are_embedded_and_an_unknown_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("user-sheet.typ");
    std::fs::write(
        &template,
        "#let data = json(\"data.json\")\n#set text(font: \"DejaVu Serif\")\n#data.username\n",
    )
    .unwrap();
    let out = dir.path().join("out.pdf");
    let preview = |template: &Path| {
        Command::new(env!("CARGO_BIN_EXE_rdplay"))
            .arg("preview")
            .arg(template)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap()
    };
    let failed = preview(&template);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success());
    assert!(
        stderr.contains("unknown font family \"dejavu serif\"")
            && stderr.contains(&dir.path().join("fonts").display().to_string())
            && stderr.contains("built into rdplay"),
        "{stderr}"
    );
    std::fs::create_dir(dir.path().join("fonts")).unwrap();
    std::fs::copy(
        "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
        dir.path().join("fonts/DejaVuSerif.ttf"),
    )
    .expect("fonts-dejavu-core is installed (.ci/run does)");
    let done = preview(&template);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let fonts = Command::new("pdffonts").arg(&out).output().unwrap();
    let fonts = String::from_utf8_lossy(&fonts.stdout);
    assert!(fonts.contains("DejaVuSerif"), "{fonts}");
    // The shipped sans-serif needs no fonts/ directory.
    let sans = dir.path().join("pc-x.typ");
    std::fs::write(&sans, "#set text(font: \"DejaVu Sans\")\nHello\n").unwrap();
    let done = preview(&sans);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let fonts = Command::new("pdffonts").arg(&out).output().unwrap();
    assert!(String::from_utf8_lossy(&fonts.stdout).contains("DejaVuSans"));
}
