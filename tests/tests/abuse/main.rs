//! The abuse suite (issue 21): hostile requests to every HTTP function, delivered as Lambda
//! delivers them (API Gateway v2 / Function URL events read by `lambda_http`), each answered with
//! the documented JSON error, no 5xx, no hang, and the function healthy after. See the README's
//! "Tests" section.
//!
//! The cases are tables (`cases/`): one line per case. This binary runs them itself rather than
//! through libtest, so that one bedrock-local and one moto serve every case and are stopped
//! when it ends. It takes libtest's usual arguments: name filters, `--exact`, `--skip NAME`,
//! `--ignored`, `--include-ignored` and `--list`. Cases that fail on this branch for a known
//! reason are skipped by default with the reason (`fixed on branch ...` or `finding: ...`).

mod case;
mod cases;
mod event;
mod world;

use std::process::ExitCode;
use std::sync::Arc;

use futures_util::StreamExt;

use case::{CASE_TIMEOUT, Test, run_row};
use world::World;

/// How many rows run at once (scenarios run alone, after the rows).
const PARALLEL_ROWS: usize = 4;

#[derive(Default)]
struct Args {
    filters: Vec<String>,
    skip: Vec<String>,
    exact: bool,
    ignored: bool,
    include_ignored: bool,
    list: bool,
}

fn parse_args() -> Args {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--exact" => args.exact = true,
            "--ignored" => args.ignored = true,
            "--include-ignored" => args.include_ignored = true,
            "--list" => args.list = true,
            "--skip" => args.skip.extend(it.next()),
            // libtest options that take a value: the value is not a filter.
            "--test-threads" | "--format" | "--color" | "--logfile" | "-Z" => {
                it.next();
            }
            s if s.starts_with('-') => {}
            s => args.filters.push(s.to_owned()),
        }
    }
    args
}

impl Args {
    fn selects(&self, t: &Test) -> bool {
        let name = t.name();
        let matches = |f: &String| {
            if self.exact {
                name == f
            } else {
                name.contains(f.as_str())
            }
        };
        (self.filters.is_empty() || self.filters.iter().any(matches))
            && !self.skip.iter().any(|s| name.contains(s.as_str()))
    }

    fn runs(&self, t: &Test) -> bool {
        match t.ignored() {
            Some(_) => self.ignored || self.include_ignored,
            None => !self.ignored,
        }
    }
}

async fn run_one(world: Arc<World>, test: Arc<Test>) -> Result<(), String> {
    let handle = tokio::spawn(async move {
        let fut = async {
            match &*test {
                Test::Row(c) => run_row(&world, c).await,
                Test::Scenario { run, .. } => run(&world).await,
            }
        };
        tokio::time::timeout(CASE_TIMEOUT, fut)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {CASE_TIMEOUT:?}")))
    });
    handle
        .await
        .unwrap_or_else(|e| Err(format!("panicked: {e}")))
}

fn main() -> ExitCode {
    let args = parse_args();
    let all = cases::all();
    let mut names = std::collections::HashSet::new();
    for t in &all {
        assert!(
            names.insert(t.name().to_owned()),
            "duplicate case {}",
            t.name()
        );
    }
    let selected: Vec<Arc<Test>> = all
        .into_iter()
        .filter(|t| args.selects(t))
        .map(Arc::new)
        .collect();
    if args.list {
        for t in &selected {
            println!("{}: test", t.name());
        }
        return ExitCode::SUCCESS;
    }
    let (run, skipped): (Vec<_>, Vec<_>) = selected.into_iter().partition(|t| args.runs(t));
    println!("\nrunning {} abuse cases", run.len());
    for t in &skipped {
        if let Some(why) = t.ignored() {
            println!("test {} ... ignored, {why}", t.name());
        }
    }
    if run.is_empty() {
        println!(
            "\ntest result: ok. 0 passed; 0 failed; {} ignored\n",
            skipped.len()
        );
        return ExitCode::SUCCESS;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let failed = runtime.block_on(run_all(run.clone()));
    let passed = run.len() - failed.len();
    if !failed.is_empty() {
        println!("\nfailures:");
        for (name, why) in &failed {
            println!("    {name}: {why}");
        }
    }
    let verdict = if failed.is_empty() { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {passed} passed; {} failed; {} ignored\n",
        failed.len(),
        skipped.iter().filter(|t| t.ignored().is_some()).count()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(101)
    }
}

/// Runs the rows (a few at a time), then the scenarios one by one; returns the failures.
async fn run_all(tests: Vec<Arc<Test>>) -> Vec<(String, String)> {
    let world = Arc::new(World::start().await);
    let (rows, scenarios): (Vec<_>, Vec<_>) =
        tests.into_iter().partition(|t| matches!(**t, Test::Row(_)));
    let report = |t: &Test, r: &Result<(), String>| {
        let verdict = if r.is_ok() { "ok" } else { "FAILED" };
        println!("test {} ... {verdict}", t.name());
    };
    let mut failed = vec![];
    let mut results = futures_util::stream::iter(rows.into_iter().map(|t| {
        let world = Arc::clone(&world);
        async move {
            let r = run_one(world, Arc::clone(&t)).await;
            (t, r)
        }
    }))
    .buffer_unordered(PARALLEL_ROWS);
    while let Some((t, r)) = results.next().await {
        report(&t, &r);
        if let Err(e) = r {
            failed.push((t.name().to_owned(), e));
        }
    }
    for t in scenarios {
        let r = run_one(Arc::clone(&world), Arc::clone(&t)).await;
        report(&t, &r);
        if let Err(e) = r {
            failed.push((t.name().to_owned(), e));
        }
    }
    failed
}
