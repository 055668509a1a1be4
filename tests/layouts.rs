//! Label sheets and account slips as a person gets them: every built-in label sheet filled, each of
//! its QR codes read back from the PDF at 300 dpi (`zbarimg`), used labels skipped, every account on
//! the slips (`pdftotext`).

mod common;

use common::fleet::pdf_text_with;
use common::pdf::pages;
use rdplay::facts::Facts;
use rdplay::render::layout::{Grid, preset, presets};
use rdplay::render::{PcSheet, Renderer, UserSheet};
use rdplay::secret::Secret;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn pc(i: usize) -> PcSheet {
    let mac = format!(
        "08:00:27:{:02x}:{:02x}:{:02x}",
        i / 65536,
        (i / 256) % 256,
        i % 256
    );
    PcSheet {
        hostname: format!("pc{i}"),
        number: i as u32,
        ip: format!("10.20.{}.{}", i / 250, i % 250 + 2),
        mac: mac.clone(),
        qr: mac,
        request: format!("SS006-{i:04}"),
        date: "2025-11-24".into(),
        site: "Lycée Jean Moulin, room 12".into(),
        username: format!("USERSS{i:03}-1291"),
        facts: Facts::default(),
    }
}

fn user(i: usize) -> UserSheet {
    UserSheet {
        username: format!("USERSS{i:03}-1291"),
        password: Secret::new(format!("Tq7m-Kx4p{i:03}zR#")),
        request: format!("SS006-{i:04}"),
        date: "2025-11-24".into(),
        site: "Room 12".into(),
        hostname: format!("pc{i}"),
        number: i as u32,
        ip: "10.20.0.12".into(),
        mac: "08:00:27:ea:fa:15".into(),
        shell: "/bin/bash".into(),
        facts: Facts::default(),
        reprint: None,
    }
}

fn render_labels(grid: &Grid, n: usize, start: u32) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.pdf");
    let pcs: Vec<PcSheet> = (1..=n).map(pc).collect();
    Renderer::new(None, None)
        .unwrap()
        .pc_labels(&pcs, grid, start, &path)
        .unwrap();
    (dir, path)
}

/// The QR code on label `k` (0-based, row by row) of page `page` (1-based), read from that label's
/// area only, rasterized at 300 dpi: zbar misses codes in a dense grid of them, and reading one
/// label at a time also proves each code is where it belongs.
fn label_qr(pdf: &Path, page: usize, grid: &Grid, k: u32) -> Option<String> {
    let (column, row) = (k % grid.columns, k / grid.columns);
    let px = |mm: f64| (mm / 25.4 * 300.0).round() as i64;
    let x = grid.left + f64::from(column) * (grid.width + grid.gap_x);
    let y = grid.top + f64::from(row) * (grid.height + grid.gap_y);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("label");
    let page = page.to_string();
    let ok = Command::new("pdftoppm")
        .args(["-r", "300", "-png", "-singlefile", "-f", &page, "-l", &page])
        .args(["-x", &px(x).to_string(), "-y", &px(y).to_string()])
        .args([
            "-W",
            &px(grid.width).to_string(),
            "-H",
            &px(grid.height).to_string(),
        ])
        .arg(pdf)
        .arg(&out)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "pdftoppm");
    let scan = Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(out.with_extension("png"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&scan.stdout).trim().to_string();
    (!text.is_empty()).then_some(text)
}

#[test]
fn every_preset_holds_its_labels_on_one_page_and_every_qr_decodes() {
    for (name, _, grid) in presets() {
        let n = grid.per_page() as usize;
        let (_dir, pdf) = render_labels(&grid, n, 1);
        assert_eq!(pages(&pdf), 1, "{name}");
        for k in 0..grid.per_page() {
            assert_eq!(
                label_qr(&pdf, 1, &grid, k),
                Some(pc(k as usize + 1).mac),
                "{name}: label {}",
                k + 1
            );
        }
    }
}

#[test]
fn start_5_leaves_the_first_four_labels_empty() {
    let grid = preset("avery-l7160").unwrap();
    let (_dir, pdf) = render_labels(&grid, 21, 5);
    assert_eq!(
        pages(&pdf),
        2,
        "17 labels on the first sheet, 4 on the second"
    );
    for k in 0..4 {
        assert_eq!(label_qr(&pdf, 1, &grid, k), None, "label {} is used", k + 1);
    }
    for k in 4..21 {
        assert_eq!(label_qr(&pdf, 1, &grid, k), Some(pc(k as usize - 3).mac));
    }
    for k in 0..4 {
        assert_eq!(label_qr(&pdf, 2, &grid, k), Some(pc(k as usize + 18).mac));
    }
    assert_eq!(label_qr(&pdf, 2, &grid, 4), None);
}

#[test]
fn slips_hold_every_account_with_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slips.pdf");
    let users: Vec<UserSheet> = (1..=6).map(user).collect();
    Renderer::new(None, None)
        .unwrap()
        .user_slips(&users, &path)
        .unwrap();
    assert_eq!(pages(&path), 2, "4 slips per page");
    let text = pdf_text_with(&path, true);
    for u in &users {
        assert!(text.contains(&u.username), "{text}");
        assert!(text.contains(u.password.expose()), "{text}");
        assert!(text.contains(&u.request), "{text}");
    }
}

/// The time to lay out 50 PCs' labels and slips (printed; `--nocapture` to see it).
#[test]
fn labels_and_slips_for_50_pcs() {
    let renderer = Renderer::new(None, None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pcs: Vec<PcSheet> = (1..=50).map(pc).collect();
    let users: Vec<UserSheet> = (1..=50).map(user).collect();
    let grid = preset("avery-l7160").unwrap();
    let started = Instant::now();
    renderer
        .pc_labels(&pcs, &grid, 1, &dir.path().join("labels.pdf"))
        .unwrap();
    let labels = started.elapsed();
    let started = Instant::now();
    renderer
        .user_slips(&users, &dir.path().join("slips.pdf"))
        .unwrap();
    let slips = started.elapsed();
    println!(
        "50 PCs: labels {:.0} ms (3 sheets), slips {:.0} ms (13 pages)",
        labels.as_secs_f64() * 1000.0,
        slips.as_secs_f64() * 1000.0
    );
    assert_eq!(pages(&dir.path().join("labels.pdf")), 3);
    assert_eq!(pages(&dir.path().join("slips.pdf")), 13);
}

/// The numbers of the `pcN` hostnames (or `USERSSN-1291` usernames) in a PDF's text, in reading order.
fn numbers_in(text: &str, prefix: &str, suffix: &str) -> Vec<usize> {
    text.split_whitespace()
        .filter_map(|w| w.strip_prefix(prefix)?.strip_suffix(suffix)?.parse().ok())
        .collect()
}

/// A long run's labels are laid out a few sheets at a time and the parts joined (1,000 labels in the
/// memory of 63): used labels skipped on the first sheet only, every label once, in order, and the
/// parts meet on a sheet boundary with no empty label between them.
#[test]
fn labels_of_a_long_run_are_joined_from_parts_in_order() {
    let grid = preset("avery-l7160").unwrap();
    // 4 used + 130 labels = 134 cells on sheets of 21; a part is 3 sheets (63 cells).
    let (_dir, pdf) = render_labels(&grid, 130, 5);
    assert_eq!(pages(&pdf), 7);
    // Each sheet holds its cells' labels (pdftotext reads a sheet column by column).
    let text = pdf_text_with(&pdf, false);
    let sheets: Vec<&str> = text.split('\x0c').collect();
    for (page, sheet) in sheets.iter().enumerate().take(7) {
        let mut on_sheet = numbers_in(sheet, "pc", "");
        on_sheet.sort();
        let cells = page * 21..(page + 1) * 21;
        let want: Vec<usize> = cells
            .filter(|&c| (4..134).contains(&c))
            .map(|c| c - 3)
            .collect();
        assert_eq!(on_sheet, want, "sheet {}: {sheet}", page + 1);
    }
    for (page, k, want) in [
        (1, 3, None),
        (1, 4, Some(1)),
        (3, 20, Some(59)),
        (4, 0, Some(60)),
        (7, 7, Some(130)),
        (7, 8, None),
    ] {
        assert_eq!(
            label_qr(&pdf, page, &grid, k),
            want.map(|i| pc(i).mac),
            "page {page}, label {}",
            k + 1
        );
    }
}

/// Slips of a long run: every account once, in order, four to a page with no part ending on a
/// page that is not full; a template declaring its own count (3) is split on its pages, and one
/// that declares none is laid out whole.
#[test]
fn slips_of_a_long_run_are_joined_from_parts_in_order() {
    let users: Vec<UserSheet> = (1..=123).map(user).collect();
    let want: Vec<usize> = (1..=123).collect();
    let dir = tempfile::tempdir().unwrap();
    let builtin = rdplay::render::default_template_files()
        .iter()
        .find(|(name, _)| name.ends_with("user-slips.typ"))
        .unwrap()
        .1;
    assert!(builtin.contains("#metadata(per-page) <slips-per-page>"));
    let three = builtin.replace("#let per-page = 4", "#let per-page = 3");
    let undeclared = three.replace("#metadata(per-page) <slips-per-page>", "");
    for (name, template, sheets) in [
        ("built-in", None, 31),
        ("three declared", Some(three), 41),
        ("three undeclared", Some(undeclared), 41),
    ] {
        let mut renderer = Renderer::new(None, None).unwrap();
        if let Some(text) = template {
            let file = dir.path().join(format!("{}.typ", name.replace(' ', "-")));
            std::fs::write(&file, text).unwrap();
            renderer = renderer.with_layouts(None, Some(&file)).unwrap();
        }
        let path = dir.path().join(format!("{}.pdf", name.replace(' ', "-")));
        renderer.user_slips(&users, &path).unwrap();
        assert_eq!(pages(&path), sheets, "{name}");
        let text = pdf_text_with(&path, false);
        assert_eq!(numbers_in(&text, "USERSS", "-1291"), want, "{name}: {text}");
    }
}
