//! `legion run`'s progress on a terminal: one live line per running map run (succeeded / failed /
//! total items, items per second, elapsed), each ending in a one-line summary.
//!
//! It reads the map runs' counts through the engine's public `list_map_runs` (what ListMapRuns and
//! DescribeMapRun report) a few times a second; the interpreter knows nothing of it.

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use legion_engine::map_run::{Counts, MapRunInfo, MapRunStatus};
use legion_engine::Engine;
use time::OffsetDateTime;

/// How often the counts are read.
const POLL: Duration = Duration::from_millis(100);

/// The live lines of one execution's map runs.
pub struct Progress {
    engine: Engine,
    execution_arn: String,
    lines: MultiProgress,
    bars: HashMap<String, ProgressBar>,
}

impl Progress {
    /// Progress lines on standard error for the map runs of `execution_arn`.
    pub fn on_stderr(engine: Engine, execution_arn: String) -> Progress {
        Progress {
            engine,
            execution_arn,
            lines: MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)),
            bars: HashMap::new(),
        }
    }

    /// Updates the lines until `done` completes, then draws every map run's summary.
    pub async fn follow(mut self, done: impl std::future::Future<Output = ()>) {
        tokio::pin!(done);
        loop {
            self.update().await;
            tokio::select! {
                _ = &mut done => break,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
        self.update().await;
        for bar in self.bars.values() {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }

    async fn update(&mut self) {
        // A store that fails leaves the lines as they were until the next poll.
        let runs = self.engine.list_map_runs(&self.execution_arn).await.unwrap_or_default();
        for run in runs {
            let lines = &self.lines;
            let bar = self.bars.entry(run.map_run_arn.clone()).or_insert_with(|| {
                let bar = lines.add(ProgressBar::new(1));
                bar.set_style(style());
                bar.set_prefix(label(&run.map_run_arn).to_owned());
                bar
            });
            if bar.is_finished() {
                continue;
            }
            let items = run.item_counts;
            bar.set_length(items.total.max(1));
            bar.set_position(processed(&items));
            bar.set_message(line(&run, OffsetDateTime::now_utc()));
            if run.status != MapRunStatus::Running {
                bar.set_style(ProgressStyle::with_template("{msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
                bar.finish_with_message(summary(&run));
            }
        }
    }
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} Map run {prefix} [{bar:24}] {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// The map run's label (`…:mapRun:MACHINE/LABEL:ID`).
fn label(map_run_arn: &str) -> &str {
    map_run_arn
        .rsplit_once(':')
        .and_then(|(head, _)| head.rsplit_once(':'))
        .and_then(|(_, machine_and_label)| machine_and_label.split_once('/'))
        .map(|(_, label)| label)
        .unwrap_or(map_run_arn)
}

fn processed(items: &Counts) -> u64 {
    items.succeeded + items.failed + items.timed_out + items.aborted
}

fn seconds(run: &MapRunInfo, now: OffsetDateTime) -> f64 {
    (run.stop_date.unwrap_or(now) - run.start_date).as_seconds_f64().max(0.0)
}

fn rate(run: &MapRunInfo, now: OffsetDateTime) -> f64 {
    let s = seconds(run, now);
    if s > 0.0 {
        processed(&run.item_counts) as f64 / s
    } else {
        0.0
    }
}

/// `12 succeeded, 1 failed / 40 · 35.2 items/s · 0.4 s`
fn line(run: &MapRunInfo, now: OffsetDateTime) -> String {
    let items = &run.item_counts;
    format!(
        "{} succeeded, {} failed / {} · {:.1} items/s · {:.1} s",
        items.succeeded,
        items.failed + items.timed_out + items.aborted,
        items.total,
        rate(run, now),
        seconds(run, now)
    )
}

/// `Map run Each SUCCEEDED: 38 succeeded, 2 failed of 40 items in 1.1 s (35.2 items/s)`
fn summary(run: &MapRunInfo) -> String {
    let now = OffsetDateTime::now_utc();
    let items = &run.item_counts;
    format!(
        "Map run {} {}: {} succeeded, {} failed of {} items in {:.1} s ({:.1} items/s)",
        label(&run.map_run_arn),
        run.status.as_str(),
        items.succeeded,
        items.failed + items.timed_out + items.aborted,
        items.total,
        seconds(run, now),
        rate(run, now)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_map_run_arns() {
        assert_eq!(label("arn:aws:states:us-east-1:123456789012:mapRun:orders/Process orders:0b1c"), "Process orders");
        assert_eq!(label("nonsense"), "nonsense");
    }
}
