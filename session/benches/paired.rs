//! The paired method of the benchmarks that cross a socket: every iteration runs the floor and
//! the session path one after the other and records both timings, so drift slower than one
//! iteration cancels out of the median of the per-pair ratios. Written to
//! `target/criterion/<group>/paired.json` for `scripts/bench-report`.

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The CPUs this bench may use, counted once, before [`pin`] first narrows them: once the bench
/// is pinned to one CPU, `available_parallelism` says 1, and a server started afterwards
/// would share the bench's core.
pub(crate) fn cpus() -> usize {
    static CPUS: OnceLock<usize> = OnceLock::new();
    *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// Pins process `pid` (all its threads, and the threads it makes afterwards) to `cpu`, so that
/// a server and the bench run on cores of their own, as in the deployments a networked store is
/// for; false where `taskset` is missing or refuses.
pub(crate) fn pin(pid: u32, cpu: usize) -> bool {
    cpus();
    Command::new("taskset")
        .args(["-a", "-pc", &cpu.to_string(), &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Every iteration's `(floor, session)` timings, from both criterion phases.
#[derive(Default)]
pub(crate) struct Pairs(RefCell<Vec<(Duration, Duration)>>);

impl Pairs {
    pub(crate) fn record(&self, floor: Duration, session: Duration) {
        self.0.borrow_mut().push((floor, session));
    }

    /// Prints and saves the median of the per-pair ratios, its quartiles, and each path's
    /// median.
    pub(crate) fn report(&self, group: &str) {
        let pairs = self.0.borrow();
        if pairs.is_empty() {
            return;
        }
        let mut ratios: Vec<f64> = pairs
            .iter()
            .map(|(floor, session)| session.as_secs_f64() / floor.as_secs_f64())
            .collect();
        let mut floors: Vec<f64> = pairs.iter().map(|(f, _)| f.as_secs_f64() * 1e6).collect();
        let mut sessions: Vec<f64> = pairs.iter().map(|(_, s)| s.as_secs_f64() * 1e6).collect();
        let ratio = quantile(&mut ratios, 0.5);
        let (q1, q3) = (quantile(&mut ratios, 0.25), quantile(&mut ratios, 0.75));
        let floor = quantile(&mut floors, 0.5);
        let session = quantile(&mut sessions, 0.5);
        let count = pairs.len();
        println!(
            "{group}/paired    ratio: {ratio:.3}x (quartiles {q1:.3}-{q3:.3}) over {count} \
             pairs; medians: floor {floor:.1} µs, session {session:.1} µs"
        );
        let json = format!(
            "{{\"pairs\":{count},\"ratio_median\":{ratio},\"ratio_q1\":{q1},\"ratio_q3\":{q3},\
             \"floor_median_us\":{floor},\"session_median_us\":{session}}}\n"
        );
        let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
            PathBuf::from,
        );
        let dir = target.join("criterion").join(group);
        if let Err(error) = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join("paired.json"), json))
        {
            eprintln!("could not save the paired result: {error}");
        }
    }
}

pub(crate) fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into a non-empty sample"
    )]
    let index = ((values.len() - 1) as f64 * q).round() as usize;
    values[index]
}
