//! Checkpoints seen from outside a run: how many segments its store has committed, a
//! run stopped once it has some, and how many frames the next run took from them.

use std::path::{Path, PathBuf};

use super::{ffmpeg, wait_until, RunOutput, Workspace};

/// `in/long.mkv` in `ws`: `seconds` of 160×120 H.264 at 12 fps with AAC audio, long
/// enough to be checkpointed in segments.
pub fn long_video(ws: &Workspace, seconds: u32) -> PathBuf {
    std::fs::create_dir_all(ws.path("in")).unwrap();
    let video = ws.path("in/long.mkv");
    ffmpeg([
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=size=160x120:rate=12:duration={seconds}"),
        "-f",
        "lavfi",
        "-i",
        &format!("sine=frequency=440:duration={seconds}"),
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        video.to_str().unwrap(),
    ]);
    video
}

/// Segments committed so far in the output's checkpoint store (0 when there is none).
pub fn committed_segments(out: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(out.join(".frameforge/checkpoints")) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path().join("segments.sqlite"))
        .filter(|db| db.exists())
        .filter_map(|db| {
            let connection = rusqlite::Connection::open_with_flags(
                db,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .ok()?;
            connection
                .busy_timeout(std::time::Duration::from_millis(200))
                .ok()?;
            connection
                .query_row("SELECT COUNT(*) FROM segments", [], |row| {
                    row.get::<_, i64>(0)
                })
                .ok()
        })
        .map(|n| u64::try_from(n).unwrap_or(0))
        .sum()
}

/// Starts a run, waits until it has committed `segments` segments, and sends `signal`.
pub fn stop_after_segments(
    ws: &Workspace,
    pipeline: &Path,
    segments: u64,
    signal: &str,
) -> RunOutput {
    let run = ws.start(pipeline, &[]);
    wait_until("committed checkpoint segments", || {
        committed_segments(&ws.path("out")) >= segments
    });
    run.signal(signal);
    run.wait()
}

/// How many frames of the run's first item came from an earlier run's checkpoints.
pub fn resumed_frames(ws: &Workspace) -> u64 {
    ws.report()["items"][0]["resumed_frames"].as_u64().unwrap()
}
