//! Warnings about one item (a rotation or attachments the container cannot keep,
//! interlaced frames fed to a model, damaged frames): logged as they arise and kept for
//! the item's entry in the run report, where an operator reads them the next morning.

use std::path::Path;

/// The warnings of one item, in the order they arose.
pub struct Warnings<'a> {
    input: &'a Path,
    messages: Vec<String>,
}

impl<'a> Warnings<'a> {
    /// No warnings yet about `input`.
    pub fn new(input: &'a Path) -> Self {
        Self {
            input,
            messages: Vec::new(),
        }
    }

    /// Logs `message` as `input: message` and keeps it.
    pub fn add(&mut self, message: String) {
        tracing::warn!("{}: {message}", self.input.display());
        self.messages.push(message);
    }

    /// The messages, without the input's name.
    pub fn into_messages(self) -> Vec<String> {
        self.messages
    }
}
