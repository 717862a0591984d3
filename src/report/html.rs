//! `report.html`: one self-contained page (crops inlined as data URIs, no scripts, no
//! network; links to the inputs and outputs relative to the page) that says what this
//! run did and what the output directory holds, lists failures first, then every item
//! with its last result, the run that made it and its before/after crops.

use std::fmt::Write;
use std::path::Path;

use super::html_row::{item_row, RowContext};
use super::links::relative_href;
use super::thumbnail::REPORT_THUMBNAILS;
use super::{ItemReport, ItemStatus, RunReport};

/// The report as an HTML page written into `page_dir`: the summary lines, failures
/// first, then every item.
pub fn render(report: &RunReport, page_dir: &Path) -> String {
    let mut page = String::new();
    let title = escape(report.name.as_deref().unwrap_or("FrameForge run"));
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    page.push_str(&summary_line(report));
    page.push_str(&totals_line(report));
    page.push_str(&failures_section(report, page_dir));
    page.push_str(&items_section(report, page_dir));
    page.push_str("</body>\n</html>\n");
    page
}

/// What this run did.
fn summary_line(report: &RunReport) -> String {
    format!(
        "<p class=\"summary\">This run (<span class=\"run\">{}</span>): {} {}, {} skipped, {} failed in {:.1} s{}{} — exit code {}</p>\n",
        escape(&report.run),
        report.done,
        report.done_verb,
        report.skipped,
        report.failed,
        report.seconds,
        if report.warned > 0 {
            format!("; {} with warnings", report.warned)
        } else {
            String::new()
        },
        if report.interrupted {
            " (interrupted)"
        } else {
            ""
        },
        report.exit_code
    )
}

/// What the output directory holds, whichever run made it.
fn totals_line(report: &RunReport) -> String {
    let totals = &report.totals;
    let mut line = format!(
        "<p class=\"totals\">In the output directory: {} item(s), {} done, {} failed",
        totals.items, totals.done, totals.failed
    );
    for (count, what) in [
        (totals.interrupted, "interrupted"),
        (totals.skipped, "skipped"),
        (totals.input_gone, "with their input gone"),
    ] {
        if count > 0 {
            let _ = write!(line, ", {count} {what}");
        }
    }
    line.push_str("</p>\n");
    line
}

fn failures_section(report: &RunReport, page_dir: &Path) -> String {
    let failures: Vec<&ItemReport> = report
        .items
        .iter()
        .filter(|i| i.status == ItemStatus::Failed)
        .collect();
    if failures.is_empty() {
        return String::new();
    }
    let mut section = String::from("<section id=\"failures\">\n<h2>Failures</h2>\n<ul>\n");
    for item in failures {
        let _ = writeln!(
            section,
            "<li>{} (run <span class=\"run\">{}</span>): {}</li>",
            linked_code(&item.input, page_dir),
            escape(&item.run),
            escape(&item.error.join(": "))
        );
    }
    section.push_str("</ul>\n</section>\n");
    section
}

fn items_section(report: &RunReport, page_dir: &Path) -> String {
    let shown = report.items.iter().filter(|i| i.preview.is_some()).count();
    let unshown = report
        .items
        .iter()
        .filter(|i| i.status == ItemStatus::Done && i.preview.is_none())
        .count();
    let mut section = String::from("<section id=\"items\">\n<h2>Items</h2>\n");
    if shown >= REPORT_THUMBNAILS && unshown > 0 {
        let _ = writeln!(
            section,
            "<p class=\"note\">Crops of the first {shown} items listed; the other {unshown} are listed without them.</p>"
        );
    }
    section.push_str("<table>\n<thead><tr><th>input</th><th>status</th><th>run</th><th>frames</th><th>fps</th><th>before</th><th>after (1:1)</th><th>captions</th></tr></thead>\n<tbody>\n");
    let context = RowContext {
        page_dir,
        this_run: &report.run,
    };
    for item in &report.items {
        section.push_str(&item_row(item, &context));
    }
    section.push_str("</tbody>\n</table>\n</section>\n");
    section
}

/// `<code>path</code>`, linked to the file when a relative link leads there.
pub(super) fn linked_code(path: &Path, page_dir: &Path) -> String {
    let code = format!("<code>{}</code>", escape(&path.display().to_string()));
    match relative_href(page_dir, path) {
        Some(href) => format!("<a href=\"{}\">{code}</a>", escape(&href)),
        None => code,
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}\
tr.failed td{background:#fdd}#failures{border:2px solid #c00;padding:0 1em;margin-bottom:1em}\
img{display:block;image-rendering:pixelated}\
ul.captions{margin:0;padding-left:1.2em;max-width:32em}.time{color:#666;font-size:smaller}\
p.warning{color:#850;margin:0.3em 0;max-width:40em}.run{font-family:monospace}\
small.crop,small.gone{color:#666}";

#[cfg(test)]
mod tests {
    use super::super::thumbnail::{Crop, Preview};
    use super::super::Totals;
    use super::*;

    fn run_of(items: Vec<ItemReport>) -> RunReport {
        RunReport {
            pipeline: "p.yaml".into(),
            name: None,
            version: "0",
            run: "2026-12-26T11:15:03Z-4711".into(),
            started_unix: 0,
            seconds: 1.0,
            exit_code: 0,
            done_verb: "restored",
            done: items.len(),
            skipped: 0,
            failed: 0,
            warned: 0,
            interrupted: false,
            totals: Totals::of(&items),
            items,
        }
    }

    fn done_item(index: usize, with_thumbnails: bool) -> ItemReport {
        let crop = Crop {
            x: 0,
            y: 0,
            width: 1,
            height: 1,
            frame_width: 1,
            frame_height: 1,
            after_width: 2,
            after_height: 2,
        };
        ItemReport {
            status: ItemStatus::Done,
            preview: with_thumbnails.then(|| Preview {
                before: vec![1],
                after: vec![2],
                crop,
            }),
            ..ItemReport::failed(std::path::Path::new(&format!("in/{index}.png")))
        }
    }

    #[test]
    fn items_past_the_thumbnail_places_are_counted_in_a_note() {
        let page_dir = Path::new("out");
        let mut items: Vec<ItemReport> =
            (0..REPORT_THUMBNAILS).map(|i| done_item(i, true)).collect();
        let full = render(&run_of(items.clone()), page_dir);
        assert!(!full.contains("class=\"note\""));
        items.extend((0..3).map(|i| done_item(REPORT_THUMBNAILS + i, false)));
        let page = render(&run_of(items), page_dir);
        assert!(page.contains(&format!(
            "<p class=\"note\">Crops of the first {REPORT_THUMBNAILS} items listed; the other 3 are listed without them.</p>"
        )));
        assert_eq!(page.matches("alt=\"before\"").count(), REPORT_THUMBNAILS);
    }

    #[test]
    fn the_totals_name_only_what_there_is() {
        let mut gone = done_item(1, false);
        gone.input_gone = true;
        let page = render(&run_of(vec![done_item(0, false), gone]), Path::new("out"));
        assert!(page.contains(
            "<p class=\"totals\">In the output directory: 2 item(s), 2 done, 0 failed, 1 with their input gone</p>"
        ));
    }

    #[test]
    fn escaping_covers_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
