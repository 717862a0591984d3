//! The run report: `report.json` describes every item (input, outputs, status, the error
//! as its cause chain, frames, seconds, fps, device) and matches what stderr said;
//! `report.html` is one self-contained page that lists failures before the items and
//! shows a before/after pair of inline PNGs for each restored item (the "before" shown
//! at the "after" one's size), with its captions and warnings, linked to its files.
//!
//! The page is checked with a small tag scanner (`util::html`), then rendered by headless
//! Chromium (`tools/setup.sh --tests` installs it): the screenshot must show the failures
//! box above the items and each before/after pair pixel for pixel, side by side.
//! What the report keeps across runs is `report_history.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use std::collections::HashMap;

use serde_json::Value;
use util::html::{item_rows, link_target, start_tags};
use util::{RunOutput, Workspace};

const RESTORE_X2: &str = "stages:\n  - restore:\n      model: {x2}\n      tile: 0\n";

/// A still, a 6-frame clip and a file that does not open, restored once.
fn reported_batch() -> (Workspace, std::path::PathBuf, RunOutput) {
    let ws = Workspace::new();
    ws.input(&[
        ("images/coffee.jpg", "a.jpg"),
        ("video/flat_bt709.mkv", "b.mkv"),
        ("bad/garbage.mkv", "c.mkv"),
    ]);
    let pipeline = ws.pipeline(RESTORE_X2);
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    (ws, pipeline, run)
}

/// The report's items by file name.
fn items_by_name(report: &Value) -> HashMap<String, Value> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let name = i["input"].as_str().unwrap().rsplit('/').next().unwrap();
            (name.to_string(), i.clone())
        })
        .collect()
}

#[test]
fn report_json_describes_every_item_with_its_cause_chain() {
    let (ws, pipeline, run) = reported_batch();
    let report = ws.report();
    assert_eq!(
        (
            &report["done"],
            &report["skipped"],
            &report["failed"],
            &report["exit_code"],
            &report["interrupted"]
        ),
        (&2.into(), &0.into(), &1.into(), &1.into(), &false.into()),
        "{report:#}"
    );
    let items = items_by_name(&report);
    assert_eq!(items.len(), 3, "{report:#}");
    for (name, item) in &items {
        for key in [
            "input", "outputs", "status", "error", "frames", "seconds", "fps", "device",
        ] {
            assert!(item.get(key).is_some(), "{name}: no `{key}`: {item:#}");
        }
        assert_eq!(
            item["input"].as_str().unwrap(),
            ws.path(&format!("in/{name}")).to_str().unwrap()
        );
    }
    // An MKV carries its XMP in a sidecar beside it; a PNG inside.
    let outputs_of = |names: &[&str]| {
        serde_json::json!(names
            .iter()
            .map(|n| ws.path(&format!("out/{n}")))
            .collect::<Vec<_>>())
    };
    for (name, outputs, frames) in [
        ("a.jpg", outputs_of(&["a.png"]), 1),
        ("b.mkv", outputs_of(&["b.mkv", "b.mkv.xmp"]), 6),
    ] {
        let item = &items[name];
        assert_eq!(item["status"], "done", "{item:#}");
        assert_eq!(item["error"], serde_json::json!([]), "{item:#}");
        assert_eq!(item["outputs"], outputs, "{item:#}");
        assert_eq!(item["frames"], frames, "{item:#}");
        assert!(item["seconds"].as_f64().unwrap() > 0.0, "{item:#}");
        assert!(item["fps"].as_f64().unwrap() > 0.0, "{item:#}");
        assert_eq!(item["device"], "cpu", "{item:#}");
    }
    // The failure: its cause chain as a list, whose `: `-join is what stderr said.
    let failed = &items["c.mkv"];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["outputs"], serde_json::json!([]), "{failed:#}");
    assert_eq!(failed["device"], Value::Null, "{failed:#}");
    let chain: Vec<&str> = failed["error"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(
        chain,
        [
            "cannot open input: not a media file ffmpeg recognises, or its header is damaged or missing",
            "Invalid data found when processing input"
        ]
    );
    let line = ws.failure_lines(&run.stderr, "c.mkv")[0];
    assert_eq!(
        line,
        format!("{}: {}", ws.path("in/c.mkv").display(), chain.join(": "))
    );

    // A rerun skips the finished items and keeps reporting their results.
    let rerun = ws.run(&pipeline, &[]);
    assert_eq!(rerun.code, Some(1), "{}", rerun.stderr);
    let first_run = report["run"].as_str().unwrap();
    let report = ws.report();
    assert_eq!(report["skipped"], 2, "{report:#}");
    let items = items_by_name(&report);
    for (name, outputs) in [
        ("a.jpg", outputs_of(&["a.png"])),
        ("b.mkv", outputs_of(&["b.mkv", "b.mkv.xmp"])),
    ] {
        assert_eq!(items[name]["outputs"], outputs, "{:#}", items[name]);
        assert_eq!(items[name]["status"], "done", "{:#}", items[name]);
        assert_eq!(items[name]["run"], first_run, "{:#}", items[name]);
    }
}

#[test]
fn report_html_lists_failures_first_and_embeds_before_after_pngs() {
    let (ws, _, _) = reported_batch();
    let html = std::fs::read_to_string(ws.path("out/report.html")).unwrap();
    let lower = html.to_ascii_lowercase();
    // Self-contained: nothing fetched, nothing run; links lead to the item's files.
    for forbidden in [
        "<script", "http://", "https://", "url(", "@import", "<link", "<iframe",
    ] {
        assert!(
            !lower.contains(forbidden),
            "report.html contains `{forbidden}`"
        );
    }
    let tags = start_tags(&html);
    let mut linked = std::collections::BTreeSet::new();
    for tag in &tags {
        if let Some(value) = tag.attributes.get("src") {
            assert!(
                value.starts_with("data:"),
                "<{} src=\"{}…\"> is not inline",
                tag.name,
                &value[..value.len().min(40)]
            );
        }
        if let Some(href) = tag.attributes.get("href") {
            let target = link_target(&ws.path("out"), href);
            linked.insert(
                target
                    .canonicalize()
                    .unwrap_or_else(|e| panic!("<a href=\"{href}\"> leads to no file ({e})")),
            );
        }
    }
    let expected: std::collections::BTreeSet<_> = [
        "in/a.jpg",
        "in/b.mkv",
        "in/c.mkv",
        "out/a.png",
        "out/b.mkv",
        "out/b.mkv.xmp",
    ]
    .iter()
    .map(|f| ws.path(f).canonicalize().unwrap())
    .collect();
    assert_eq!(linked, expected);
    // Failures come before the items table, and name the failed file.
    let failures = tags
        .iter()
        .find(|t| t.attributes.get("id").map(String::as_str) == Some("failures"))
        .expect("a failures section");
    let table = tags
        .iter()
        .find(|t| t.name == "table")
        .expect("an items table");
    assert!(
        failures.at < table.at,
        "failures are listed after the items"
    );
    let failure_text = &html[failures.at..table.at];
    assert!(
        failure_text.contains(&ws.path("in/c.mkv").display().to_string())
            && failure_text.contains("cannot open input"),
        "{failure_text}"
    );
    // Each row: restored rows have a before and an after PNG, the failed one none.
    let mut pairs = Vec::new();
    for row in item_rows(&html) {
        match row.class.as_str() {
            "done" => {
                let alts: Vec<&str> = row.pictures.iter().map(|p| p.alt.as_str()).collect();
                assert_eq!(alts, ["before", "after"]);
                let (before, after) = (row.picture("before"), row.picture("after"));
                // Both cover the same area on screen; the "after" at its own pixels.
                assert_eq!(before.shown, after.shown);
                assert_eq!(after.shown, Some(after.image.dimensions()));
                let (w, h) = after.image.dimensions();
                let enlarged = image::imageops::resize(
                    &before.image,
                    w,
                    h,
                    image::imageops::FilterType::Nearest,
                );
                pairs.push((enlarged, after.image.clone()));
            }
            "failed" => assert!(row.pictures.is_empty()),
            _ => {}
        }
    }
    assert_eq!(pairs.len(), 2, "{html}");
    check_screenshot(&ws, &pairs);
}

/// The failures box's border colour (`#c00` in the page's style).
const FAILURE_BORDER: [u8; 3] = [0xcc, 0, 0];

/// Renders the page with headless Chromium and finds, in the screenshot, the failures
/// box and every before/after pair at its on-screen size, side by side, below the box.
fn check_screenshot(ws: &Workspace, pairs: &[(image::RgbImage, image::RgbImage)]) {
    let shot = ws.path("report.png");
    let run = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=1600,1000",
        ])
        .arg(format!("--user-data-dir={}", ws.path("chromium").display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", ws.path("out/report.html").display()))
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run chromium ({e}): install it with `bash tools/setup.sh --tests`")
        });
    assert!(run.status.success(), "chromium failed: {run:?}");
    let page = image::open(&shot).unwrap().to_rgb8();
    let border_bottom = page
        .enumerate_pixels()
        .filter(|(_, _, p)| near(p.0, FAILURE_BORDER, 8))
        .map(|(_, y, _)| y)
        .max()
        .expect("no failures box in the screenshot");
    for (before, after) in pairs {
        let (bx, by) = find(&page, before, 0..page.height(), 0)
            .expect("a before thumbnail is not on the page");
        assert!(by > border_bottom, "a thumbnail above the failures box");
        find(&page, after, by..by + 1, bx + before.width())
            .expect("no after thumbnail right of its before thumbnail");
    }
}

fn near(a: [u8; 3], b: [u8; 3], tolerance: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tolerance)
}

/// Where `needle` appears in `page` (every pixel within 3 levels) with its top-left
/// corner on one of `rows` and at `from_x` or right of it. Candidates are the positions
/// whose first pixel matches, checked in full.
fn find(
    page: &image::RgbImage,
    needle: &image::RgbImage,
    rows: std::ops::Range<u32>,
    from_x: u32,
) -> Option<(u32, u32)> {
    let (w, h) = needle.dimensions();
    let last_x = page.width().checked_sub(w)?;
    let last_y = page.height().checked_sub(h)?;
    let first = needle.get_pixel(0, 0).0;
    rows.filter(|&y| y <= last_y)
        .flat_map(|y| (from_x..=last_x).map(move |x| (x, y)))
        .filter(|&(x, y)| near(page.get_pixel(x, y).0, first, 3))
        .find(|&(x, y)| {
            needle
                .enumerate_pixels()
                .all(|(nx, ny, p)| near(page.get_pixel(x + nx, y + ny).0, p.0, 3))
        })
}

/// The captions the run made (the same cues as each item's caption files) and what it
/// warned about are in report.json and beside the item in report.html.
#[test]
fn report_carries_each_items_captions_and_warnings() {
    let ws = Workspace::new();
    ws.input(&[
        ("caption/shapes.mkv", "shapes.mkv"),
        ("caption/stills/purple_star.png", "star.png"),
        ("video/mpeg2.mpg", "interlaced.mpg"),
    ]);
    let model = util::root().join("models/captioner");
    let pipeline = ws.pipeline(&format!(
        "{RESTORE_X2}  - caption:\n      model: {}\n      every: 1s\n      beams: 1\n",
        model.display()
    ));
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let report = ws.report();
    let items = items_by_name(&report);
    let html = std::fs::read_to_string(ws.path("out/report.html")).unwrap();
    for (name, stem) in [
        ("shapes.mkv", "shapes"),
        ("star.png", "star"),
        ("interlaced.mpg", "interlaced"),
    ] {
        let written: Value = serde_json::from_str(
            &std::fs::read_to_string(ws.path(&format!("out/{stem}.captions.json"))).unwrap(),
        )
        .unwrap();
        let expected: Vec<Value> = written["cues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| serde_json::json!({"start": c["start"], "end": c["end"], "text": c["text"]}))
            .collect();
        assert!(!expected.is_empty(), "{name}: no cues written");
        assert_eq!(
            items[name]["captions"],
            Value::Array(expected.clone()),
            "{name}"
        );
        // The page shows each caption in the item's row.
        let row_start = html
            .find(&format!(
                "<code>{}</code>",
                ws.path(&format!("in/{name}")).display()
            ))
            .unwrap_or_else(|| panic!("{name}: no row"));
        let row = &html[row_start..row_start + html[row_start..].find("</tr>").unwrap()];
        for cue in &expected {
            let text = cue["text"].as_str().unwrap();
            assert!(row.contains(text), "{name}: `{text}` not in its row");
        }
    }
    assert!(
        items["shapes.mkv"]["captions"].as_array().unwrap().len() > 1,
        "the clip is captioned every second: {:#}",
        items["shapes.mkv"]
    );
    let interlace_warning = "12 of 12 frame(s) reached the model interlaced (top field first), \
        so it restores the combing; put `- filter: \"bwdif=mode=send_frame:deint=interlaced\"` \
        before the restore stage to deinterlace them";
    assert_eq!(
        items["interlaced.mpg"]["warnings"],
        serde_json::json!([interlace_warning])
    );
    assert_eq!(items["shapes.mkv"]["warnings"], serde_json::json!([]));
    // The summary counts the items with warnings, so a cron mail shows there is more to read.
    assert_eq!(report["warned"], 1);
    let summary = run.stderr.lines().last().unwrap();
    assert!(
        summary.starts_with("3 restored, 0 skipped, 0 failed in ")
            && summary.ends_with(" s; 1 with warnings (see the report)"),
        "{summary}"
    );
    assert!(run.stderr.contains(&format!(
        "{}: {interlace_warning}",
        ws.path("in/interlaced.mpg").display()
    )));
    let escaped = interlace_warning.replace('"', "&quot;");
    assert!(
        html.contains(&format!("<p class=\"warning\">warning: {escaped}</p>")),
        "the warning is not on the page"
    );
}
