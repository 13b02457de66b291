//! `jobs stats`: runs per task and status, and runs finished per minute.

use std::collections::BTreeMap;
use std::time::Duration;

use jobs::RunStatus;
use jobs::stats::{MinuteCount, Stats};

use crate::cli::{Global, StatsArgs};
use crate::connect::Target;
use crate::exit::CliError;
use crate::output::{self, Output};

/// Counts and throughput of the namespace.
pub(super) async fn stats(global: &Global, args: StatsArgs) -> Result<Output, CliError> {
    let target = Target::from_options(global)?;
    let window = Duration::from_secs(u64::from(args.minutes) * 60);
    let stats = target
        .with_jobs(|jobs| async move { jobs.runs().stats(window).await })
        .await?;
    if global.json {
        output::json(&stats)
    } else {
        Ok(stats_text(&stats))
    }
}

/// A table of counts (a row per task, a column per status, and a total), then one line
/// of throughput with a sparkline of finished runs per minute.
fn stats_text(stats: &Stats) -> String {
    let mut text = format!("at {}\n\n", output::time(stats.at));
    text.push_str(&counts_table(stats));
    text.push('\n');
    text.push_str(&throughput_line(&stats.throughput));
    text
}

fn counts_table(stats: &Stats) -> String {
    if stats.counts.is_empty() {
        return "no runs\n".to_owned();
    }
    let mut by_task: BTreeMap<&str, [u64; RunStatus::ALL.len()]> = BTreeMap::new();
    for count in &stats.counts {
        let row = by_task.entry(count.task.as_str()).or_default();
        if let Some(i) = RunStatus::ALL.iter().position(|s| *s == count.status) {
            row[i] += count.count;
        }
    }
    let mut totals = [0u64; RunStatus::ALL.len()];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (task, counts) in &by_task {
        let mut row = vec![(*task).to_owned()];
        for (i, n) in counts.iter().enumerate() {
            totals[i] += n;
            row.push(n.to_string());
        }
        row.push(counts.iter().sum::<u64>().to_string());
        rows.push(row);
    }
    if by_task.len() > 1 {
        let mut row = vec!["(all)".to_owned()];
        row.extend(totals.iter().map(u64::to_string));
        row.push(totals.iter().sum::<u64>().to_string());
        rows.push(row);
    }
    let mut header = vec!["TASK"];
    header.extend(RunStatus::ALL.iter().map(|s| s.as_str()));
    header.push("total");
    let numbers: Vec<usize> = (1..header.len()).collect();
    output::table(&header, &rows, &numbers)
}

/// `finished in the last 15 min: 42 (40 succeeded, 1 dead_lettered, 1 cancelled),
/// 2.8/min, peak 9/min  ▁▁▃█▂`.
fn throughput_line(minutes: &[MinuteCount]) -> String {
    let per_minute: Vec<u64> = minutes
        .iter()
        .map(|m| m.succeeded + m.dead_lettered + m.cancelled)
        .collect();
    let succeeded: u64 = minutes.iter().map(|m| m.succeeded).sum();
    let dead: u64 = minutes.iter().map(|m| m.dead_lettered).sum();
    let cancelled: u64 = minutes.iter().map(|m| m.cancelled).sum();
    let total = succeeded + dead + cancelled;
    let count = per_minute.len().max(1);
    let peak = per_minute.iter().copied().max().unwrap_or(0);
    format!(
        "finished in the last {} min: {total} ({succeeded} succeeded, {dead} dead_lettered, \
         {cancelled} cancelled), {:.1}/min, peak {peak}/min  {}\n",
        per_minute.len(),
        total as f64 / count as f64,
        sparkline(&per_minute),
    )
}

/// One block character per value, scaled to the largest (a blank for zero).
fn sparkline(values: &[u64]) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let peak = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| {
            if v == 0 || peak == 0 {
                '·'
            } else {
                let level = (v * (BLOCKS.len() as u64 - 1)).div_ceil(peak);
                BLOCKS[usize::try_from(level).unwrap_or(0).min(BLOCKS.len() - 1)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_the_peak() {
        assert_eq!(sparkline(&[0, 1, 4, 8]), "·▂▅█");
        assert_eq!(sparkline(&[0, 0]), "··");
        assert_eq!(sparkline(&[]), "");
    }
}
