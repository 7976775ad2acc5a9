//! Per-ACD-group statistics agree with the engine's totals over a long seeded run.

use hookflash_sim::{Engine, SimConfig};

#[test]
fn group_statistics_add_up_to_the_totals() {
    let cfg = SimConfig {
        seed: 11,
        agents: 9,
        queues: 3,
        extensions: 10,
        calls_per_minute: 12.0,
        ..SimConfig::default()
    };
    let mut e = Engine::new(cfg);
    let mut t = 0;
    let mut saw_waiting = false;
    while t < 4 * 3_600_000 {
        t += 10_000;
        e.step(t);
        while e.poll_output().is_some() {}
        let g = e.group_stats();
        assert_eq!(g.len(), 3);
        let waiting: Vec<usize> = g.iter().map(|x| x.waiting).collect();
        assert_eq!(waiting, e.queue_lengths());
        for x in &g {
            assert_eq!(
                x.agents_ready
                    + x.agents_busy
                    + x.agents_wrap_up
                    + x.agents_not_ready
                    + x.agents_logged_off,
                3
            );
            assert!(x.answered_in_service_level <= x.answered);
            assert!(x.answered + x.overflowed_out <= x.queued);
            if x.waiting > 0 {
                saw_waiting = true;
            } else {
                assert_eq!(x.longest_wait_ms, 0);
            }
        }
    }
    let g = e.group_stats();
    let s = e.stats();
    assert_eq!(g.iter().map(|x| x.answered).sum::<u64>(), s.acd_answered);
    assert_eq!(
        g.iter().map(|x| x.answered_in_service_level).sum::<u64>(),
        s.answered_in_service_level
    );
    assert_eq!(
        g.iter().map(|x| x.overflowed_out).sum::<u64>(),
        s.overflowed
    );
    assert!(g.iter().map(|x| x.abandoned).sum::<u64>() <= s.abandoned);
    assert!(g.iter().all(|x| x.queued > 0 && x.answered > 0));
    assert_eq!(g[1].group, "6001");
    assert!(saw_waiting);
}
