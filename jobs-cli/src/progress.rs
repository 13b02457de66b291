//! The progress bar of a bulk replay, on stderr, only when stderr is a terminal and
//! enough runs are involved for it to be worth drawing.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Fewer runs than this finish too fast for a bar to help.
const MIN_RUNS: u64 = 50;

/// A bar, or nothing.
#[derive(Debug)]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Whether a bar could be drawn at all: stderr is a terminal.
    pub(crate) fn wanted() -> bool {
        std::io::stderr().is_terminal()
    }

    /// A bar for `expected` runs, or nothing when fewer than [`MIN_RUNS`] are expected.
    /// With no estimate (`None`), a counter without a bar.
    pub(crate) fn new(expected: Option<u64>) -> Self {
        let bar = match expected {
            Some(total) if total < MIN_RUNS => return Progress::hidden(),
            Some(total) => {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                if let Ok(style) = ProgressStyle::with_template(
                    "replaying {wide_bar} {pos}/{len} ({msg}), {eta} left",
                ) {
                    bar.set_style(style);
                }
                bar
            }
            None => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                if let Ok(style) =
                    ProgressStyle::with_template("{spinner} replayed {pos} ({msg}), {elapsed}")
                {
                    bar.set_style(style);
                }
                bar
            }
        };
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar: Some(bar) }
    }

    /// No bar.
    pub(crate) fn hidden() -> Self {
        Progress { bar: None }
    }

    /// Runs replayed and skipped so far.
    pub(crate) fn update(&mut self, replayed: usize, skipped: usize) {
        // Position counts both: the runs looked at.
        if let Some(bar) = &self.bar {
            let done = u64::try_from(replayed + skipped).unwrap_or(u64::MAX);
            if bar.length().is_some_and(|len| done > len) {
                bar.set_length(done);
            }
            bar.set_position(done);
            bar.set_message(format!("{skipped} skipped"));
        }
    }

    /// Removes the bar, so the summary stands alone.
    pub(crate) fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
