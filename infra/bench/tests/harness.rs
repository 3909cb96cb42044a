//! The harness itself, in seconds, with debug binaries: the runtime API hands an event to a real
//! `lambda_runtime` function (`bench-minimal-fn`) and receives its response; a process that exits
//! without asking for an event is recognised as not implemented; cold start and warm loops count
//! what they should.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bench::session::{FnKind, FnSpec, LaunchCtx, Session};
use bytes::Bytes;

fn ctx() -> LaunchCtx {
    let dir = std::env::temp_dir().join(format!("bench-harness-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // No Bedrock call is made by these functions; the URL only has to be well-formed.
    LaunchCtx {
        bedrock_url: "http://127.0.0.1:9".into(),
        log_dir: dir,
        memory_mb: 128,
        api: Default::default(),
        env: Vec::new(),
    }
}

fn minimal() -> FnSpec {
    FnSpec {
        name: "bench-minimal-fn".into(),
        kind: FnKind::Rust {
            bin: PathBuf::from(env!("CARGO_BIN_EXE_bench-minimal-fn")),
        },
    }
}

#[tokio::test]
async fn runtime_api_round_trip_with_minimal_function() {
    let event = Bytes::from_static(br#"{"hello":"world","n":1}"#);
    let (mut s, id) = Session::launch(&minimal(), &ctx(), Some(event.clone()))
        .await
        .unwrap();
    let first_next = s.wait_first_next(Duration::from_secs(20)).await.unwrap();
    assert!(first_next >= s.spawned_at);
    let out = s
        .wait_outcome(&id.unwrap(), Duration::from_secs(20))
        .await
        .unwrap();
    let echoed: serde_json::Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(echoed, serde_json::json!({"hello": "world", "n": 1}));
    assert!(out.done >= out.handed_out && out.handed_out >= first_next);
    // Back-to-back events on the same process.
    for i in 0..5 {
        let out = s
            .invoke(
                Bytes::from(format!(r#"{{"i":{i}}}"#)),
                Duration::from_secs(20),
            )
            .await
            .unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&out.body).unwrap()["i"],
            i
        );
    }
    let pid = s.child.pid();
    assert!(s.peak_rss_kb().is_some_and(|kb| kb > 0));
    s.stop();
    // Killed by pid and reaped.
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

#[tokio::test]
async fn process_exiting_without_next_is_not_implemented() {
    let spec = FnSpec {
        name: "placeholder".into(),
        kind: FnKind::Rust {
            bin: PathBuf::from("/bin/true"),
        },
    };
    let (mut s, _) = Session::launch(&spec, &ctx(), None).await.unwrap();
    let err = s
        .wait_first_next(Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(err.is_not_implemented(), "{err}");
}

#[tokio::test]
async fn cold_and_warm_loops_are_bounded_and_counted() {
    let ev = Bytes::from_static(b"{}");
    let spec = minimal();
    let targets = [
        bench::cold_start::Target {
            spec: &spec,
            event: Some(("echo", ev.clone())),
        },
        bench::cold_start::Target {
            spec: &spec,
            event: None,
        },
    ];
    let cold = bench::cold_start::measure(
        &targets,
        &ctx(),
        1,
        3,
        Instant::now() + Duration::from_secs(30),
    )
    .await;
    let [echo, init_only] = &cold[..] else {
        panic!("one result per target: {}", cold.len());
    };
    assert!(echo.failure.is_none(), "{:?}", echo.failure);
    assert_eq!((echo.init_ms.len(), echo.first_invoke_ms.len()), (3, 3));
    assert!(
        echo.init_ms
            .iter()
            .zip(&echo.first_invoke_ms)
            .all(|(i, f)| i <= f)
    );
    // CPU time is read for every first invoke, and no process can use more of it than its
    // lifetime on every core.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    assert_eq!(echo.first_invoke_cpu_ms.len(), 3);
    assert!(
        echo.first_invoke_cpu_ms
            .iter()
            .zip(&echo.first_invoke_ms)
            .all(|(cpu, wall)| *cpu > 0.0 && *cpu <= wall * cores)
    );
    assert!(init_only.failure.is_none(), "{:?}", init_only.failure);
    assert_eq!(
        (init_only.init_ms.len(), init_only.first_invoke_ms.len()),
        (3, 0)
    );

    let warm = bench::warm::measure(
        &minimal(),
        &ctx(),
        "echo",
        ev.clone(),
        None,
        2,
        20,
        Instant::now() + Duration::from_secs(30),
    )
    .await;
    assert!(warm.failure.is_none(), "{:?}", warm.failure);
    assert_eq!((warm.fn_ms.len(), warm.requests_total), (20, 22));
    assert!(warm.peak_rss_kb.is_some());

    // A deadline already past stops the loop and says so.
    let cut = bench::cold_start::measure(&targets[..1], &ctx(), 0, 100, Instant::now()).await;
    let cut = &cut[0];
    assert!(cut.truncated && cut.init_ms.is_empty());
}

/// The LMI steady phase's scheduling against a real function (the minimal one, which echoes and
/// so answers at once, one invocation at a time): the ramp queues N, each end is replaced, exactly
/// `measured` streams are measured, and the phase ends by itself. The echo is not a streamed
/// response, so each measured stream reports that as its error.
#[tokio::test]
async fn lmi_steady_phase_measures_the_asked_count_and_ends() {
    use bench::lmi::steady::{self, SteadyPlan};
    let (mut s, _) = Session::launch(&minimal(), &ctx(), None).await.unwrap();
    s.wait_first_next(Duration::from_secs(20)).await.unwrap();
    let template = serde_json::json!({"body": "", "headers": {}});
    let plan = SteadyPlan {
        n: 4,
        len: 8,
        expected: Duration::from_millis(200),
        measured: 6,
        timeout: Duration::from_secs(30),
    };
    let started = Instant::now();
    let st = steady::run(&mut s.api, &mut s.child, &template, &plan)
        .await
        .unwrap();
    assert!(
        started.elapsed() >= plan.expected,
        "measured streams come after the ramp"
    );
    assert_eq!(st.streams.len(), 6, "{:?}", st.streams);
    assert!(st.streams.iter().all(Result::is_err), "{:?}", st.streams);
    assert_eq!(st.in_flight_at_handout.len(), 6);
    assert!(
        st.in_flight_at_handout
            .iter()
            .all(|&k| (1..=4).contains(&k))
    );
    assert!(
        st.streams_run >= 4 + 6,
        "ramp and measured: {}",
        st.streams_run
    );
    s.stop();
}
