//! `report.html`: one self-contained page (thumbnails inlined as data URIs, no scripts,
//! no network) that shows failures first, then every item with its before/after
//! thumbnails.

use std::fmt::Write;

use base64::Engine;

use super::thumbnail::REPORT_THUMBNAILS;
use super::{CaptionLine, ItemReport, ItemStatus, RunReport};

/// The report as an HTML page: the summary line, failures first, then every item.
pub fn render(report: &RunReport) -> String {
    let mut page = String::new();
    let title = escape(report.name.as_deref().unwrap_or("FrameForge run"));
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    page.push_str(&summary_line(report));
    page.push_str(&failures_section(report));
    page.push_str(&items_section(report));
    page.push_str("</body>\n</html>\n");
    page
}

fn summary_line(report: &RunReport) -> String {
    format!(
        "<p class=\"summary\">{} {}, {} skipped, {} failed in {:.1} s{}{} — exit code {}</p>\n",
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

fn failures_section(report: &RunReport) -> String {
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
            "<li><code>{}</code>: {}</li>",
            escape(&item.input.display().to_string()),
            escape(&item.error.join(": "))
        );
    }
    section.push_str("</ul>\n</section>\n");
    section
}

fn items_section(report: &RunReport) -> String {
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
            "<p class=\"note\">Thumbnails of the first {shown} items finished; the other {unshown} are listed without them.</p>"
        );
    }
    section.push_str("<table>\n<thead><tr><th>input</th><th>status</th><th>frames</th><th>fps</th><th>before</th><th>after</th><th>captions</th></tr></thead>\n<tbody>\n");
    for item in &report.items {
        section.push_str(&item_row(item));
    }
    section.push_str("</tbody>\n</table>\n</section>\n");
    section
}

fn item_row(item: &ItemReport) -> String {
    let status = match item.status {
        ItemStatus::Done => "done",
        ItemStatus::Skipped => "skipped",
        ItemStatus::Failed => "failed",
        ItemStatus::Interrupted => "interrupted",
        ItemStatus::WouldProcess => "would process",
    };
    let (before, after) = item
        .preview
        .as_ref()
        .map_or((String::new(), String::new()), |p| {
            (image_tag(&p.before, "before"), image_tag(&p.after, "after"))
        });
    let outputs = item
        .outputs
        .iter()
        .map(|o| format!("<br><small>→ {}</small>", escape(&o.display().to_string())))
        .collect::<String>();
    let warnings = item
        .warnings
        .iter()
        .map(|w| format!("<p class=\"warning\">warning: {}</p>", escape(w)))
        .collect::<String>();
    let captions = captions_list(&item.captions);
    format!(
        "<tr class=\"{status}\"><td><code>{}</code>{outputs}{warnings}</td><td>{status}</td><td>{}</td><td>{:.2}</td><td>{before}</td><td>{after}</td><td>{captions}</td></tr>\n",
        escape(&item.input.display().to_string()),
        item.frames,
        item.fps
    )
}

/// An item's captions: a list of timed lines for a video, the text alone for an image
/// (whose one caption starts and ends at 0).
fn captions_list(captions: &[CaptionLine]) -> String {
    if captions.is_empty() {
        return String::new();
    }
    let lines = captions
        .iter()
        .map(|c| {
            let time = if c.end > 0.0 {
                format!(
                    "<span class=\"time\">{}–{}</span> ",
                    clock(c.start),
                    clock(c.end)
                )
            } else {
                String::new()
            };
            format!("<li>{time}{}</li>", escape(&c.text))
        })
        .collect::<String>();
    format!("<ul class=\"captions\">{lines}</ul>")
}

/// `m:ss.s`, as a player shows a time.
fn clock(seconds: f64) -> String {
    let tenths = (seconds.max(0.0) * 10.0).round() as u64;
    format!("{}:{:02}.{}", tenths / 600, tenths / 10 % 60, tenths % 10)
}

fn image_tag(png: &[u8], alt: &str) -> String {
    format!(
        "<img alt=\"{alt}\" src=\"data:image/png;base64,{}\">",
        base64::engine::general_purpose::STANDARD.encode(png)
    )
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
p.warning{color:#850;margin:0.3em 0;max-width:40em}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_reads_like_a_player() {
        assert_eq!(clock(0.0), "0:00.0");
        assert_eq!(clock(9.96), "0:10.0");
        assert_eq!(clock(61.25), "1:01.3");
        assert_eq!(clock(3600.0), "60:00.0");
    }

    #[test]
    fn video_captions_are_timed_and_an_images_caption_is_plain() {
        let line = |start, end, text: &str| CaptionLine {
            start,
            end,
            text: text.into(),
        };
        assert_eq!(
            captions_list(&[line(0.0, 1.5, "a <red> circle"), line(1.5, 3.0, "two")]),
            "<ul class=\"captions\"><li><span class=\"time\">0:00.0–0:01.5</span> a &lt;red&gt; circle</li>\
             <li><span class=\"time\">0:01.5–0:03.0</span> two</li></ul>"
        );
        assert_eq!(
            captions_list(&[line(0.0, 0.0, "a cat")]),
            "<ul class=\"captions\"><li>a cat</li></ul>"
        );
        assert_eq!(captions_list(&[]), "");
    }

    fn run_of(items: Vec<ItemReport>) -> RunReport {
        RunReport {
            pipeline: "p.yaml".into(),
            name: None,
            version: "0",
            started_unix: 0,
            seconds: 1.0,
            exit_code: 0,
            done_verb: "restored",
            done: items.len(),
            skipped: 0,
            failed: 0,
            warned: 0,
            interrupted: false,
            items,
        }
    }

    fn done_item(index: usize, with_thumbnails: bool) -> ItemReport {
        ItemReport {
            status: ItemStatus::Done,
            preview: with_thumbnails.then(|| super::super::thumbnail::Preview {
                before: vec![1],
                after: vec![2],
            }),
            ..ItemReport::failed(std::path::Path::new(&format!("in/{index}.png")))
        }
    }

    #[test]
    fn items_past_the_thumbnail_places_are_counted_in_a_note() {
        let mut items: Vec<ItemReport> =
            (0..REPORT_THUMBNAILS).map(|i| done_item(i, true)).collect();
        let full = render(&run_of(items.clone()));
        assert!(!full.contains("class=\"note\""));
        items.extend((0..3).map(|i| done_item(REPORT_THUMBNAILS + i, false)));
        let page = render(&run_of(items));
        assert!(page.contains(&format!(
            "<p class=\"note\">Thumbnails of the first {REPORT_THUMBNAILS} items finished; the other 3 are listed without them.</p>"
        )));
        assert_eq!(page.matches("alt=\"before\"").count(), REPORT_THUMBNAILS);
    }

    #[test]
    fn escaping_covers_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
