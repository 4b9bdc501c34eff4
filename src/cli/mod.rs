//! Command-line interface: argument definitions and dispatch.

mod bench;
mod common;
mod corpus;
mod duet;
mod eval;
mod generate;
mod inspect;
mod melodies;
mod pianoroll;
mod plot;
mod recipe;
mod render;
mod rewards;
mod score;
mod session;
mod train;

use clap::{Parser, Subcommand};

/// Cadenza: agents that learn to compose and improvise melodies by reinforcement learning.
///
/// A melody is written one step at a time (a sixteenth note by default): on each step the
/// agent plays a new pitch, holds the sounding note, or rests. Rewards judge each step; agents
/// learn from them. Start with `cadenza bench env --task rl-tuner` to see the environment run.
#[derive(Debug, Parser)]
#[command(name = "cadenza", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure speed: `cadenza bench env` steps an environment as fast as it can.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    Train(train::TrainArgs),
    Generate(generate::GenerateArgs),
    Render(render::RenderArgs),
    Inspect(inspect::InspectArgs),
    Score(score::ScoreArgs),
    Eval(eval::EvalArgs),
    /// Corpus models and statistics: fit and evaluate n-gram models, compare orders, plot
    /// histograms.
    ///
    /// Example: cadenza corpus orders --in corpus/dev --orders 1-6 --valid-fraction 0.2
    #[command(subcommand)]
    Corpus(corpus::CorpusCommand),
    /// Reward terms: `cadenza rewards bench` measures their speed, how well they tell real
    /// melodies from corrupted ones, and how they agree.
    ///
    /// Example: cadenza rewards bench --corpus corpus/dev --out bench-report
    #[command(subcommand)]
    Rewards(rewards::RewardsCommand),
    Session(session::SessionArgs),
    Duet(duet::DuetArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Bench(cmd) => bench::run(cmd),
        Command::Train(args) => train::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Render(args) => render::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Score(args) => score::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Corpus(cmd) => corpus::run(cmd),
        Command::Rewards(cmd) => rewards::run(cmd),
        Command::Session(args) => session::run(args),
        Command::Duet(args) => duet::run(args),
    }
}
