//! Runs fault-simulation schedules: one seed (to reproduce a failure) or
//! many (a soak).

use clap::Parser;
use elector_sim::{Options, ReleaseFlaw, RestartPlan, Sabotage};

/// Deterministic fault simulation of the elector.
#[derive(Parser)]
#[command(name = "elector-sim", version, about)]
struct Args {
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// How many schedules, from --seed on.
    #[arg(long, default_value_t = 1)]
    schedules: u64,
    /// Break the elector on purpose (comma-separated): no-fencing,
    /// no-expiry-timer, lease-never-ends, lease-from-reply, forged-token,
    /// keep-lease-on-unknown-write, end-lease-after-resign-answer,
    /// renew-before-expiry, ignore-own-value, forget-unconfirmed-update,
    /// ignore-silent-link.
    /// Needs a build with `--features sabotage`.
    #[arg(long, value_delimiter = ',')]
    sabotage: Vec<String>,
    /// Tell candidates a request lifetime shorter than the transport's.
    #[arg(long)]
    understate_lifetime: bool,
    /// Lose every notification.
    #[arg(long)]
    lose_all_notifications: bool,
    /// Restart the store once, mid-run: `empty` (an in-memory store's
    /// crash), `held` (empty, with a lock-delay of --lock-delay-terms
    /// times the longest term) or `restored` (the durable store).
    #[arg(long, value_parser = ["empty", "held", "restored"])]
    restart_store: Option<String>,
    /// With `--restart-store held`: the lock-delay, in longest terms.
    #[arg(long, default_value_t = 1.1)]
    lock_delay_terms: f64,
    /// Break the clients' side of release on disconnect: `from-receipt`
    /// (confirm the link from when answers arrive, not when requests
    /// left), `no-margin` (trust the link for the whole Will delay) or
    /// `resumed-session` (the first rule: keep the lease across a drop the
    /// client sees if the session was resumed in time).
    #[arg(long, value_parser = ["from-receipt", "no-margin", "resumed-session"])]
    release_flaw: Option<String>,
}

/// The switches named, refused (in one line) by a build without the
/// `sabotage` feature: the flag stays in every build so that a plain one
/// says why it cannot break the elector instead of not knowing the flag.
fn sabotage(names: &[String]) -> Result<Sabotage, String> {
    let mut sabotage = Sabotage::default();
    if !names.is_empty() && !cfg!(feature = "sabotage") {
        return Err("--sabotage needs elector-sim built with `--features sabotage`".into());
    }
    for name in names {
        let switch = match name.as_str() {
            "no-fencing" => &mut sabotage.no_fencing,
            "no-expiry-timer" => &mut sabotage.no_expiry_timer,
            "lease-never-ends" => &mut sabotage.lease_never_ends,
            "lease-from-reply" => &mut sabotage.lease_from_reply,
            "forged-token" => &mut sabotage.forged_token,
            "keep-lease-on-unknown-write" => &mut sabotage.keep_lease_on_unknown_write,
            "end-lease-after-resign-answer" => &mut sabotage.end_lease_after_resign_answer,
            "renew-before-expiry" => &mut sabotage.renew_before_expiry,
            "ignore-own-value" => &mut sabotage.ignore_own_value,
            "forget-unconfirmed-update" => &mut sabotage.forget_unconfirmed_update,
            "ignore-silent-link" => &mut sabotage.ignore_silent_link,
            other => return Err(format!("unknown sabotage {other:?}")),
        };
        *switch = true;
    }
    Ok(sabotage)
}

fn main() {
    let args = Args::parse();
    let sabotage = sabotage(&args.sabotage).unwrap_or_else(|error| {
        eprintln!("error: {error}");
        std::process::exit(2);
    });
    let options = Options {
        sabotage,
        lose_all_notifications: args.lose_all_notifications,
        understate_lifetime: args.understate_lifetime,
        restart_store: args.restart_store.as_deref().map(|how| match how {
            "empty" => RestartPlan::Empty,
            "held" => RestartPlan::EmptyWithLockDelay {
                longest_terms: args.lock_delay_terms,
            },
            _ => RestartPlan::Restored,
        }),
        release_flaw: match args.release_flaw.as_deref() {
            Some("from-receipt") => ReleaseFlaw::FromReceipt,
            Some("resumed-session") => ReleaseFlaw::ResumedSessionKept,
            Some(_) => ReleaseFlaw::NoMargin,
            None => ReleaseFlaw::None,
        },
    };
    let started = std::time::Instant::now();
    let totals = elector_sim::run_many(args.seed, args.schedules, options, |outcome| {
        println!("{outcome}")
    });
    if args.schedules == 1 {
        println!("{}", elector_sim::run(args.seed, options));
    }
    println!("{totals} (in {:.1} s)", started.elapsed().as_secs_f64());
    if !totals.failing.is_empty() {
        std::process::exit(1);
    }
}
