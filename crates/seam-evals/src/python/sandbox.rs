//! The kernel side of the assertion sandbox: a Landlock domain on the thread that starts the
//! process, which the process inherits and can never leave. It denies every filesystem write,
//! allows reads (and execution) only beneath the given directories, denies every TCP bind and
//! connect, and (where the kernel has it, ABI 6) abstract UNIX sockets and signals to processes
//! outside the sandbox.
//!
//! Landlock is per thread: [`restrict_this_thread`] must run on a thread that does nothing but
//! start the one process (see [`super::call`]). Without Landlock (ABI 4: filesystem and TCP), a
//! Python assertion is refused unless `SEAM_EVAL_PYTHON_UNSANDBOXED=1` says to run it anyway.

use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, path_beneath_rules,
};

/// What a sandboxed process may read, besides the system's libraries.
#[derive(Clone, Debug)]
pub(crate) struct Rules {
    pub readable: Vec<PathBuf>,
}

/// Shared libraries, the loader's cache, time zones and the device files Python opens.
const SYSTEM_READABLE: &[&str] = &[
    "/lib",
    "/lib64",
    "/usr/lib",
    "/usr/lib64",
    "/usr/local/lib",
    "/usr/share/zoneinfo",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/dev/null",
    "/dev/urandom",
];

/// The opt-out for kernels without Landlock.
const UNSANDBOXED: &str = "SEAM_EVAL_PYTHON_UNSANDBOXED";

fn opted_out() -> bool {
    std::env::var(UNSANDBOXED).is_ok_and(|v| v == "1")
}

/// Whether sandboxed calls can run here: a trial domain on a throwaway thread.
pub(crate) fn available() -> Result<(), String> {
    if opted_out() {
        return Ok(());
    }
    std::thread::Builder::new()
        .name("seam-python-probe".into())
        .spawn(|| enforce(&Rules { readable: vec![] }, Path::new("/")))
        .map_err(|e| format!("cannot start a thread: {e}"))?
        .join()
        .map_err(|_| "the sandbox check stopped".to_owned())?
}

/// Puts this thread (and what it starts) in the sandbox, or fails; with the opt-out set, a
/// kernel without Landlock runs the process unsandboxed.
pub(crate) fn restrict_this_thread(rules: &Rules, exe: &Path) -> Result<(), String> {
    match enforce(rules, exe) {
        Err(_) if opted_out() => Ok(()),
        other => other,
    }
}

fn enforce(rules: &Rules, exe: &Path) -> Result<(), String> {
    let abi = ABI::V4;
    let refused = |why: String| {
        format!(
            "python assertions run sandboxed and this kernel cannot sandbox them ({why}); they need Linux 6.7+ with Landlock enabled, or {UNSANDBOXED}=1 to run them without a sandbox"
        )
    };
    let mut readable: Vec<PathBuf> = SYSTEM_READABLE.iter().map(PathBuf::from).collect();
    readable.extend(rules.readable.iter().cloned());
    readable.push(exe.to_path_buf());
    let status = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.handle_access(AccessNet::from_all(abi)))
        .map(|r| r.set_compatibility(CompatLevel::BestEffort))
        .and_then(|r| r.scope(Scope::from_all(ABI::V6)))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(&readable, AccessFs::from_read(abi))))
        .and_then(|r| r.restrict_self())
        .map_err(|e| refused(e.to_string()))?;
    if status.ruleset == RulesetStatus::NotEnforced || !status.no_new_privs {
        return Err(refused("Landlock is not enforced".into()));
    }
    Ok(())
}
