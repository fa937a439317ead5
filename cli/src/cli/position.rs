//! Flags of the commands that look at a position or key once (`leader`,
//! `observe`, `resign`, `get`).

use super::store::ConnectionArgs;
use super::values::{candidate_name, not_empty};

#[derive(Debug, clap::Args)]
pub struct PositionArgs {
    /// The position (state-store key).
    #[arg(value_parser = not_empty)]
    pub position: String,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// The key.
    #[arg(value_parser = not_empty)]
    pub key: String,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, clap::Args)]
pub struct ResignArgs {
    /// The position (state-store key).
    #[arg(value_parser = not_empty)]
    pub position: String,
    /// The name the position is held under; the hold is released whatever
    /// its session id, unless --session-id narrows it.
    #[arg(long, value_parser = candidate_name)]
    pub name: String,
    /// Release the hold only if it also has this session id.
    #[arg(long, value_parser = not_empty)]
    pub session_id: Option<String>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}
