//! The report across runs: it describes the output directory, not only the last run. A
//! rerun with nothing to do still lists every item with its earlier result and the run
//! that made it (JSON entries unchanged, HTML rows with their crops); a new failure is
//! listed first with this run's id; an item whose input is gone stays listed while its
//! output is there. The crops: the "after" is the restored output's own pixels (1:1)
//! for the same region as the "before", chosen where the picture has detail, and a
//! rotated video's crops are upright.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::collections::HashMap;
use std::path::Path;

use image::{GenericImageView, RgbImage};
use serde_json::Value;

use crate::util;
use util::html::{item_rows, Row};
use util::{ffmpeg, psnr, Workspace};

const RESTORE_X2: &str = "stages:\n  - restore:\n      model: {x2}\n      tile: 0\n";

/// A still and a 6-frame clip, restored once.
fn finished_batch() -> (Workspace, std::path::PathBuf, Value) {
    let ws = Workspace::new();
    ws.input(&[
        ("images/coffee.jpg", "a.jpg"),
        ("video/flat_bt709.mkv", "b.mkv"),
    ]);
    let pipeline = ws.pipeline(RESTORE_X2);
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let report = ws.report();
    (ws, pipeline, report)
}

/// The report's items by file name.
fn items_by_name(report: &Value) -> HashMap<String, Value> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (name_of(i["input"].as_str().unwrap()), i.clone()))
        .collect()
}

fn name_of(path: &str) -> String {
    path.rsplit('/').next().unwrap().to_string()
}

fn page(ws: &Workspace) -> String {
    std::fs::read_to_string(ws.path("out/report.html")).unwrap()
}

/// The page's rows by file name.
fn rows_by_name(html: &str) -> HashMap<String, Row> {
    item_rows(html)
        .into_iter()
        .map(|r| (name_of(r.input()), r))
        .collect()
}

/// The run a report or an entry names (empty when it names none).
fn run_of(value: &Value) -> &str {
    value["run"].as_str().unwrap_or_default()
}

#[test]
fn a_rerun_with_nothing_to_do_keeps_every_items_result_and_the_run_that_made_it() {
    let (ws, pipeline, first) = finished_batch();
    let first_page = page(&ws);
    let first_run = run_of(&first);
    let rerun = ws.run(&pipeline, &[]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.stderr);
    let report = ws.report();
    assert_eq!(
        (&report["done"], &report["skipped"], &report["failed"]),
        (&0.into(), &2.into(), &0.into()),
        "{report:#}"
    );
    // Each entry is the first run's, as that run reported it.
    let (before, after) = (items_by_name(&first), items_by_name(&report));
    assert_eq!(after, before, "{report:#}");
    let this_run = run_of(&report);
    assert!(!first_run.is_empty() && this_run != first_run, "{report:#}");
    for item in after.values() {
        assert_eq!(run_of(item), first_run, "{item:#}");
        assert_eq!(item["status"], "done", "{item:#}");
    }
    assert_eq!(
        report["totals"],
        serde_json::json!({"items": 2, "done": 2, "skipped": 0, "failed": 0,
                           "interrupted": 0, "input_gone": 0})
    );
    // The page: this run's summary, the directory's totals, every row with the first
    // run's id and its crops.
    let html = page(&ws);
    assert!(
        html.contains(&format!(
            "This run (<span class=\"run\">{this_run}</span>): 0 restored, 2 skipped, 0 failed"
        )),
        "{html}"
    );
    assert!(html.contains("In the output directory: 2 item(s), 2 done, 0 failed</p>"));
    let (rows, first_rows) = (rows_by_name(&html), rows_by_name(&first_page));
    assert_eq!(rows.len(), 2);
    for (name, row) in &rows {
        assert_eq!(row.class, "done", "{name}");
        assert_eq!(row.run(), first_run, "{name}");
        let earlier = &first_rows[name];
        assert_eq!(row.pictures.len(), 2, "{name}: {}", row.html);
        for (now, then) in row.pictures.iter().zip(&earlier.pictures) {
            assert_eq!((&now.alt, now.shown), (&then.alt, then.shown), "{name}");
            assert!(
                now.image == then.image,
                "{name}: the {} crop changed",
                now.alt
            );
        }
    }
}

#[test]
fn a_new_failure_is_listed_first_with_this_runs_id() {
    let (ws, pipeline, first) = finished_batch();
    // Named to sort last, so only the report's order can put it first.
    ws.input(&[("bad/garbage.mkv", "z.mkv")]);
    let rerun = ws.run(&pipeline, &[]);
    assert_eq!(rerun.code, Some(1), "{}", rerun.stderr);
    let report = ws.report();
    let this_run = run_of(&report);
    let items = report["items"].as_array().unwrap();
    let listed: Vec<(String, &str, &str)> = items
        .iter()
        .map(|i| {
            (
                name_of(i["input"].as_str().unwrap()),
                i["status"].as_str().unwrap(),
                run_of(i),
            )
        })
        .collect();
    assert_eq!(listed.len(), 3, "{report:#}");
    assert_eq!(listed[0], ("z.mkv".to_string(), "failed", this_run));
    assert!(!this_run.is_empty(), "{report:#}");
    for entry in &listed[1..] {
        assert_eq!((entry.1, entry.2), ("done", run_of(&first)), "{entry:?}");
    }
    assert_eq!(
        items[0]["error"][0],
        "cannot open input: not a media file ffmpeg recognises, or its header is damaged or missing"
    );
    // The page names the failure, with this run's id, above the items, and its row
    // comes first.
    let html = page(&ws);
    let failures = &html[html.find("id=\"failures\"").unwrap()..html.find("<table>").unwrap()];
    assert!(
        failures.contains(&format!(
            "{}</code></a> (run <span class=\"run\">{this_run}</span>): cannot open input",
            ws.path("in/z.mkv").display()
        )),
        "{failures}"
    );
    let rows = item_rows(&html);
    assert_eq!(
        (
            name_of(rows[0].input()),
            rows[0].class.as_str(),
            rows[0].run()
        ),
        ("z.mkv".to_string(), "failed", this_run)
    );
}

#[test]
fn an_item_whose_input_is_gone_is_listed_while_its_output_remains() {
    let (ws, pipeline, first) = finished_batch();
    std::fs::remove_file(ws.path("in/a.jpg")).unwrap();
    let rerun = ws.run(&pipeline, &[]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.stderr);
    let report = ws.report();
    let items = report["items"].as_array().unwrap();
    let last = items.last().unwrap();
    assert_eq!(name_of(last["input"].as_str().unwrap()), "a.jpg");
    assert_eq!(
        (&last["status"], run_of(last), &last["input_gone"]),
        (&"done".into(), run_of(&first), &true.into()),
        "{report:#}"
    );
    assert_eq!(report["totals"]["input_gone"], 1);
    let html = page(&ws);
    let row = &rows_by_name(&html)["a.jpg"];
    assert!(row.html.contains("input gone"), "{}", row.html);
    // Once its output is gone too, nothing of it is left to describe.
    std::fs::remove_file(ws.path("out/a.png")).unwrap();
    let rerun = ws.run(&pipeline, &[]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.stderr);
    let names: Vec<String> = items_by_name(&ws.report()).into_keys().collect();
    assert_eq!(names, ["b.mkv"]);
}

/// Where the page says the crop was cut: `W×H at (X, Y) of …`.
fn crop_origin(row: &Row) -> (u32, u32) {
    let caption = row
        .html
        .split("<small class=\"crop\">")
        .nth(1)
        .expect("a crop caption");
    let inside = &caption[caption.find('(').unwrap() + 1..caption.find(')').unwrap()];
    let (x, y) = inside.split_once(", ").unwrap();
    (x.parse().unwrap(), y.parse().unwrap())
}

#[test]
fn the_crops_are_one_to_one_from_the_most_detailed_region() {
    // A flat frame with one detailed patch (a photo) off-centre.
    let photo = image::open(util::fixture("images/astronaut.png"))
        .unwrap()
        .to_rgb8();
    let mut source = RgbImage::from_pixel(320, 200, image::Rgb([128, 128, 128]));
    let (px, py): (u32, u32) = (224, 120);
    image::imageops::replace(&mut source, &photo, px.into(), py.into());
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("in")).unwrap();
    source.save(ws.path("in/detail.png")).unwrap();
    let pipeline = ws.pipeline(RESTORE_X2);
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let output = image::open(ws.path("out/detail.png")).unwrap().to_rgb8();
    assert_eq!(output.dimensions(), (640, 400));

    let rows = item_rows(&page(&ws));
    let (before, after) = (rows[0].picture("before"), rows[0].picture("after"));
    let (bw, bh) = before.image.dimensions();
    assert_eq!(
        after.image.dimensions(),
        (2 * bw, 2 * bh),
        "the model's scale"
    );
    assert_eq!((bw, bh), (128, 128), "a 256-pixel after crop");
    // Shown at the same on-screen size, the "after" at its own pixels.
    assert_eq!(before.shown, Some(after.image.dimensions()));
    assert_eq!(after.shown, Some(after.image.dimensions()));
    let (x, y) = crop_origin(&rows[0]);
    assert!(
        x <= px && x + bw >= px + photo.width() && y <= py && y + bh >= py + photo.height(),
        "the crop at ({x}, {y}) misses the detailed patch"
    );
    assert!(before.image == source.view(x, y, bw, bh).to_image());
    assert!(
        after.image == output.view(2 * x, 2 * y, 2 * bw, 2 * bh).to_image(),
        "the after crop is not the output's own pixels"
    );
}

/// The first frame of a video as ffmpeg shows it (display rotation applied), in RGB.
fn first_frame_upright(path: &Path) -> RgbImage {
    let png = ffmpeg([
        "-i".as_ref(),
        path.as_os_str(),
        "-frames:v".as_ref(),
        "1".as_ref(),
        "-sws_flags".as_ref(),
        "bicubic+accurate_rnd+full_chroma_int".as_ref(),
        "-f".as_ref(),
        "image2pipe".as_ref(),
        "-vcodec".as_ref(),
        "png".as_ref(),
        "-".as_ref(),
    ]);
    image::load_from_memory(&png).unwrap().to_rgb8()
}

#[test]
fn a_rotated_videos_crops_are_upright() {
    let ws = Workspace::new();
    // Stored turned clockwise with a display matrix saying to turn it back.
    ws.input(&[("video/h264_rotated_sar.mp4", "phone.mp4")]);
    let pipeline = ws.pipeline(&format!("{RESTORE_X2}encode:\n  container: same\n"));
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let rows = item_rows(&page(&ws));
    let (before, after) = (rows[0].picture("before"), rows[0].picture("after"));
    let source = first_frame_upright(&ws.path("in/phone.mp4"));
    let output = first_frame_upright(&ws.path("out/phone.mp4"));
    assert_eq!(
        source.dimensions(),
        (64, 96),
        "ffmpeg turns the fixture upright"
    );
    assert_eq!(before.image.dimensions(), source.dimensions());
    assert_eq!(after.image.dimensions(), output.dimensions());
    let (source_db, output_db) = (
        psnr(before.image.as_raw(), source.as_raw()),
        psnr(after.image.as_raw(), output.as_raw()),
    );
    println!("before vs upright source: {source_db:.1} dB; after vs output: {output_db:.1} dB");
    assert!(source_db > 35.0, "{source_db:.1} dB");
    assert!(output_db > 30.0, "{output_db:.1} dB");
}
