//! `commons`: the command-line interface of commons-rl. Parsing and dispatch only; each subcommand lives
//! in its own module under `src/cli/`.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Output piped into `head` and closed early: end quietly like other Unix tools, instead of
    // panicking on the broken pipe. SAFETY: resetting a signal's disposition before any thread starts.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    die_with_parent();
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One line: clap's message (which may span lines before the usage block), joined.
            let text = e.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!("{} (see `commons --help`)", message.join(" "));
            return ExitCode::from(2);
        }
    };
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A process started by the search or a study's cell runner (which set `COMMONS_RL_PARENT_PID` to its own
/// pid) is told SIGTERM when that parent dies, even by SIGKILL: it then saves a checkpoint and stops, as
/// on Ctrl-C, instead of running on unseen and holding its cell's lock. If the parent is gone already,
/// it does not start at all.
fn die_with_parent() {
    let Some(parent) = std::env::var("COMMONS_RL_PARENT_PID")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    else {
        return;
    };
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_PDEATHSIG) changes only this process's own attributes; kill with signal 0
    // sends nothing, it only asks whether the process exists.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
        // The signal is tied to the immediate parent, which may be a wrapper (`nice`, a script) between
        // the starter and us: only a starter that no longer exists stops us.
        let gone = libc::kill(parent as libc::pid_t, 0) != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            eprintln!(
                "error: the process that started this one ({parent}, COMMONS_RL_PARENT_PID) has ended; not starting"
            );
            std::process::exit(1);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = parent;
}
