//! One item's row of `report.html`: its input and outputs (linked), status, the run that
//! made the entry, numbers, the before/after crops side by side at the same on-screen
//! size, and its captions and warnings.

use std::path::Path;

use base64::Engine;

use super::html::{escape, linked_code};
use super::links::relative_href;
use super::thumbnail::Preview;
use super::{CaptionLine, ItemReport, ItemStatus};

/// What every row needs from the page.
pub(super) struct RowContext<'a> {
    /// Where the page is, for relative links.
    pub page_dir: &'a Path,
    /// This run's id, so its own entries can say so.
    pub this_run: &'a str,
}

pub(super) fn item_row(item: &ItemReport, context: &RowContext<'_>) -> String {
    let status = match item.status {
        ItemStatus::Done => "done",
        ItemStatus::Skipped => "skipped",
        ItemStatus::Failed => "failed",
        ItemStatus::Interrupted => "interrupted",
        ItemStatus::WouldProcess => "would process",
    };
    let gone = if item.input_gone {
        "<br><small class=\"gone\">input gone</small>"
    } else {
        ""
    };
    let (before, after) = item
        .preview
        .as_ref()
        .map_or((String::new(), String::new()), |p| {
            crop_cells(p, item, context.page_dir)
        });
    let outputs = item
        .outputs
        .iter()
        .map(|o| format!("<br><small>→ {}</small>", linked_code(o, context.page_dir)))
        .collect::<String>();
    let warnings = item
        .warnings
        .iter()
        .map(|w| format!("<p class=\"warning\">warning: {}</p>", escape(w)))
        .collect::<String>();
    let captions = captions_list(&item.captions);
    format!(
        "<tr class=\"{status}\"><td>{}{outputs}{warnings}</td><td>{status}{gone}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{before}</td><td>{after}</td><td>{captions}</td></tr>\n",
        linked_code(&item.input, context.page_dir),
        run_cell(&item.run, context.this_run),
        item.frames,
        item.fps
    )
}

/// The run that made the entry; "this run" under this run's own id.
fn run_cell(run: &str, this_run: &str) -> String {
    let note = if run == this_run {
        "<br><small>this run</small>"
    } else {
        ""
    };
    format!("<span class=\"run\">{}</span>{note}", escape(run))
}

/// The "before" crop, shown enlarged to the "after" crop's size so both cover the same
/// on-screen area, linked to the input; the "after" crop at its own pixels, linked to
/// the first output.
fn crop_cells(preview: &Preview, item: &ItemReport, page_dir: &Path) -> (String, String) {
    let crop = &preview.crop;
    let size = (crop.after_width, crop.after_height);
    let before = format!(
        "{}<small class=\"crop\">{}×{} at ({}, {}) of {}×{}</small>",
        linked(
            image_tag(&preview.before, "before", size),
            Some(&item.input),
            page_dir
        ),
        crop.width,
        crop.height,
        crop.x,
        crop.y,
        crop.frame_width,
        crop.frame_height
    );
    let after = linked(
        image_tag(&preview.after, "after", size),
        item.outputs.first(),
        page_dir,
    );
    (before, after)
}

fn linked(html: String, target: Option<&std::path::PathBuf>, page_dir: &Path) -> String {
    match target.and_then(|t| relative_href(page_dir, t)) {
        Some(href) => format!("<a href=\"{}\">{html}</a>", escape(&href)),
        None => html,
    }
}

fn image_tag(png: &[u8], alt: &str, (width, height): (u32, u32)) -> String {
    format!(
        "<img alt=\"{alt}\" width=\"{width}\" height=\"{height}\" src=\"data:image/png;base64,{}\">",
        base64::engine::general_purpose::STANDARD.encode(png)
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

    #[test]
    fn this_runs_entries_say_so() {
        assert_eq!(
            run_cell("r2", "r2"),
            "<span class=\"run\">r2</span><br><small>this run</small>"
        );
        assert_eq!(run_cell("r1", "r2"), "<span class=\"run\">r1</span>");
    }
}
