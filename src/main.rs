//! The `cadenza` command line.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", message(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, joined by ": " as anyhow's `{:#}` does, but each said once:
/// many errors name their cause in their own message as well as in their source, and
/// printing the chain as it is would repeat the cause once per layer.
fn message(err: &anyhow::Error) -> String {
    let mut text = String::new();
    let mut last = String::new();
    for cause in err.chain() {
        let shown = cause.to_string();
        if shown.is_empty() || last.contains(&shown) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&shown);
        last = shown;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::message;

    /// An error that names its source in its own message, as many in the workspace do.
    #[derive(Debug)]
    struct Read(std::io::Error);

    impl std::fmt::Display for Read {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "cannot read x.mid: {}", self.0)
        }
    }

    impl std::error::Error for Read {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = anyhow::Error::new(Read(io)).context("inspect");
        assert_eq!(message(&err), "inspect: cannot read x.mid: no such file");
        // Causes not in the message above them are all shown.
        let err = anyhow::anyhow!("the root").context("middle").context("top");
        assert_eq!(message(&err), "top: middle: the root");
    }
}
