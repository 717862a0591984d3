//! `frameforge search`: captioned shots and images of an output directory that match
//! some words, from the full-text index the runs keep in their journals.

use crate::batch::journal::{search_captions, Hit};
use crate::cli::SearchArgs;
use crate::file_progress::clock;

use super::exit;

/// Prints the hits, best first; exit 0 with hits, 1 without, 2 when the index cannot
/// be read.
pub fn search(args: &SearchArgs) -> u8 {
    if !args.output.is_dir() {
        eprintln!("{}: not a directory", args.output.display());
        return exit::CONFIG;
    }
    let hits = match search_captions(&args.output, &args.words.join(" "), args.limit) {
        Ok(hits) => hits,
        Err(error) => {
            eprintln!("{}: {error}", args.output.display());
            return exit::CONFIG;
        }
    };
    if args.json {
        let list: Vec<serde_json::Value> = hits.iter().map(as_json).collect();
        println!("{}", serde_json::Value::Array(list));
    } else {
        for hit in &hits {
            println!("{}", as_line(hit));
        }
    }
    if hits.is_empty() {
        exit::SOME_FAILED
    } else {
        exit::OK
    }
}

/// `reel1.mkv  0:00:02–0:00:04  a red circle`; a still has no times.
fn as_line(hit: &Hit) -> String {
    if hit.end > 0.0 {
        format!(
            "{}  {}–{}  {}",
            hit.input,
            clock(std::time::Duration::from_secs_f64(hit.start.max(0.0))),
            clock(std::time::Duration::from_secs_f64(hit.end.max(0.0))),
            hit.text
        )
    } else {
        format!("{}  {}", hit.input, hit.text)
    }
}

fn as_json(hit: &Hit) -> serde_json::Value {
    serde_json::json!({
        "input": hit.input,
        "start": hit.start,
        "end": hit.end,
        "caption": hit.text,
        "rank": hit.rank,
    })
}
