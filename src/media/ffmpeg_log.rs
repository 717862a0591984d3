//! ffmpeg's own words for a failure. ffmpeg says why it refuses something ("MPEG-1/2
//! does not support 1000/1 fps") only in its log, and returns a bare "Invalid argument".
//! The log is kept off the terminal; instead, while an operation runs under
//! [`explained`], the first error lines ffmpeg logs on that thread are kept, and the
//! caller adds them to its message if the operation fails. With `RUST_LOG=debug`,
//! ffmpeg's warnings and errors also go to the log.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void};

use tracing::Level;

/// Error lines kept per operation: the first say what is wrong, later ones tend to list
/// what would be allowed (DNxHD logs every profile it knows).
const KEPT_LINES: usize = 2;

thread_local! {
    /// The error lines of the operation running under [`explained`] on this thread;
    /// `None` when none is.
    static RECORDING: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Routes ffmpeg's log into [`explained`] (errors) and, at `RUST_LOG=debug`, into the
/// log as debug lines (warnings and errors); nothing else is printed.
pub(crate) fn install() {
    ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Error);
    // SAFETY: `keep_line` has the callback's signature and only reads its arguments.
    unsafe { ffmpeg_next::ffi::av_log_set_callback(Some(keep_line)) };
}

/// Runs `operation` and returns, with its result, the first error lines ffmpeg logged
/// on this thread while it ran (joined with `; `), or `None` if it logged none.
pub fn explained<T>(operation: impl FnOnce() -> T) -> (T, Option<String>) {
    let outer = RECORDING.with(|r| r.replace(Some(Vec::new())));
    let result = operation();
    let lines = RECORDING.with(|r| r.replace(outer)).unwrap_or_default();
    let said = (!lines.is_empty()).then(|| lines.join("; "));
    (result, said)
}

/// `context`, with ffmpeg's explanation in parentheses when there is one.
pub fn with_reason(context: String, reason: Option<String>) -> String {
    match reason {
        Some(reason) => format!("{context} ({reason})"),
        None => context,
    }
}

unsafe extern "C" fn keep_line(
    class: *mut c_void,
    level: c_int,
    format: *const c_char,
    arguments: *mut ffmpeg_next::ffi::__va_list_tag,
) {
    // ffmpeg's warnings too, for whoever asks for detail (`RUST_LOG=debug`).
    let shown = level <= ffmpeg_next::ffi::AV_LOG_WARNING && tracing::enabled!(Level::DEBUG);
    let recorded = level <= ffmpeg_next::ffi::AV_LOG_ERROR
        && RECORDING
            .try_with(|r| {
                r.try_borrow()
                    .is_ok_and(|lines| lines.as_ref().is_some_and(|l| l.len() < KEPT_LINES))
            })
            .unwrap_or(false);
    if !shown && !recorded {
        return;
    }
    // The argument list can be read only once: one formatting serves both uses.
    let mut buffer = [0 as c_char; 512];
    // No "[mpeg2video @ 0x…]" prefix: the message names the file and the step already.
    let mut print_prefix: c_int = 0;
    // SAFETY: ffmpeg hands over a valid format and argument list for this call; the
    // buffer's length is passed, and the result is NUL-terminated within it.
    let text = unsafe {
        ffmpeg_next::ffi::av_log_format_line2(
            class,
            level,
            format,
            arguments,
            buffer.as_mut_ptr(),
            buffer.len() as c_int,
            &mut print_prefix,
        );
        std::ffi::CStr::from_ptr(buffer.as_ptr())
    };
    // Some messages span lines ("Can't initialize DV format!\n Make sure…"): one line.
    let line = text
        .to_string_lossy()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end_matches('.')
        .to_string();
    if line.is_empty() {
        return;
    }
    if shown {
        tracing::debug!("ffmpeg: {line}");
    }
    if !recorded {
        return;
    }
    let _ = RECORDING.try_with(|r| {
        if let Ok(mut recording) = r.try_borrow_mut() {
            if let Some(lines) = recording.as_mut() {
                lines.push(line);
            }
        }
    });
}
