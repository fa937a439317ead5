//! Runs fault-simulation schedules: one seed (to reproduce a failure) or
//! many (a soak).

use clap::Parser;
use elector_sim::{Options, Sabotage};

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
    /// Break the elector on purpose: campaign-and-update-value and leaders
    /// write without fencing tokens.
    #[arg(long)]
    sabotage_no_fencing: bool,
    /// Break the elector on purpose: no timer at the holder's expiry.
    #[arg(long)]
    sabotage_no_expiry_timer: bool,
    /// Break the elector on purpose: leases never end locally.
    #[arg(long)]
    sabotage_lease_never_ends: bool,
    /// Lose every notification.
    #[arg(long)]
    lose_all_notifications: bool,
}

fn main() {
    let args = Args::parse();
    let options = Options {
        sabotage: Sabotage {
            no_fencing: args.sabotage_no_fencing,
            no_expiry_timer: args.sabotage_no_expiry_timer,
            lease_never_ends: args.sabotage_lease_never_ends,
        },
        lose_all_notifications: args.lose_all_notifications,
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
