//! The exit code of every command, pinned for CI (README, "Exit codes"): 0 success, 2 only for
//! `plan` with changes pending, 1 for everything else that goes wrong (a usage error, an
//! invalid configuration, an AWS error). A fresh dev deploy of the default stack also shows
//! that the summary of what was applied is what was planned.

use std::io::{Read, Write};
use std::process::{Command, Output};

use crate::{cli_binary, ironbark, text};

/// The CLI with `args` on the shipped stack file, against `endpoint`.
fn run_against(endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ironbark.toml");
    let mut command = Command::new(cli_binary());
    command
        .args(args)
        .args(["--endpoint-url", endpoint, "--stack"])
        .arg(&file)
        .env_remove("IRONBARK_ENV")
        .env_remove("IRONBARK_LOCK_TIMEOUT")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("the CLI runs")
}

/// A stand-in for AWS that refuses every request as STS does an invalid access key (HTTP 403,
/// which the SDK does not retry). Returns its URL; it serves until the test process ends.
fn refusing_aws() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                // Read the request head and body (by Content-Length), then answer.
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Ok(n) = stream.read(&mut buf) else { return };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).to_string();
                    if let Some(head_end) = text.find("\r\n\r\n") {
                        let length = text[..head_end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if seen.len() >= head_end + 4 + length {
                            break;
                        }
                    }
                }
                let body = "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>\
                            <Message>The security token included in the request is invalid.</Message>\
                            </Error><RequestId>e2e</RequestId></ErrorResponse>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    url
}

fn assert_code(out: &Output, code: i32, what: &str) {
    assert_eq!(out.status.code(), Some(code), "{what}: {}", text(out));
}

#[test]
#[ignore = "needs the CLI binary that cargo xtask test runs"]
fn usage_config_and_aws_errors_exit_1_and_help_exits_0() {
    let aws = refusing_aws();
    let commands: [&[&'static str]; 7] = [
        &["validate"],
        &["plan"],
        &["deploy", "--yes"],
        &["destroy", "--yes"],
        &["outputs"],
        &["unlock", "--yes"],
        &["graph"],
    ];
    for command in commands {
        let with = |extra: &[&'static str]| -> Vec<&'static str> { [command, extra].concat() };
        // Usage errors: an unknown flag, a bad value on the command line or in the
        // environment, a --set without a key: exit 1 (never clap's 2, plan's "changes").
        assert_code(
            &run_against(&aws, &with(&["--bogus"]), &[]),
            1,
            &format!("{command:?} --bogus"),
        );
        assert_code(
            &run_against(&aws, &with(&["--lock-timeout", "ten"]), &[]),
            1,
            &format!("{command:?} --lock-timeout ten"),
        );
        let env = run_against(&aws, command, &[("IRONBARK_LOCK_TIMEOUT", "ten")]);
        assert_code(&env, 1, &format!("{command:?} IRONBARK_LOCK_TIMEOUT=ten"));
        let err = String::from_utf8_lossy(&env.stderr);
        assert!(
            err.contains("--lock-timeout") && err.contains("IRONBARK_LOCK_TIMEOUT"),
            "{command:?}: the message names the flag and the variable: {err}"
        );
        let set = run_against(&aws, &with(&["--set", "=3"]), &[]);
        assert_code(&set, 1, &format!("{command:?} --set =3"));
        let err = String::from_utf8_lossy(&set.stderr);
        assert!(
            err.contains("`=3`")
                && err.contains("the command line (--set)")
                && !err.contains(".rs:"),
            "{command:?}: {err}"
        );
        // A configuration error: exit 1, naming the key.
        let bad = run_against(
            &aws,
            &with(&["--set", "networking.vpc_cidr=10.0.0.0/33"]),
            &[],
        );
        assert_code(&bad, 1, &format!("{command:?} with a bad vpc_cidr"));
        assert!(String::from_utf8_lossy(&bad.stderr).contains("networking.vpc_cidr"));
        // --help succeeds.
        assert_code(
            &run_against(&aws, &with(&["--help"]), &[]),
            0,
            &format!("{command:?} --help"),
        );
    }
    // An AWS error (every call refused): exit 1 for every command that calls AWS.
    for command in [
        &["plan"][..],
        &["deploy", "--yes"],
        &["destroy", "--yes"],
        &["outputs"],
        &["unlock", "--yes"],
    ] {
        let out = run_against(&aws, command, &[]);
        assert_code(&out, 1, &format!("{command:?} against refusing AWS"));
    }
    // validate and graph make no AWS call: they succeed whatever AWS says.
    for command in [&["validate"][..], &["graph"]] {
        assert_code(&run_against(&aws, command, &[]), 0, &format!("{command:?}"));
    }
    // The emulator's commands: usage and argument errors exit 1, help 0.
    for (args, code) in [
        (&["emulator", "--bogus"][..], 1),
        (&["emulator", "time-scale"], 1),
        (&["emulator", "start", "--time-scale", "fast"], 1),
        (&["emulator", "faults", "--throttle", "lots"], 1),
        (&["emulator", "--help"], 0),
        (&["--version"], 0),
        (&[], 1),
    ] {
        assert_code(&run_against(&aws, args, &[]), code, &format!("{args:?}"));
    }
}

/// `Plan: 56 to create, 7 to update, ...` -> (56, 7, 0).
fn counts(line: &str, words: [&str; 3]) -> Option<(u32, u32, u32)> {
    let number = |word: &str| -> Option<u32> {
        let before = &line[..line.find(word)?];
        before.trim_end().rsplit([' ', ',']).next()?.parse().ok()
    };
    Some((number(words[0])?, number(words[1])?, number(words[2])?))
}

#[test]
#[ignore = "needs the emulator: run cargo xtask test"]
fn success_and_changes_pending_and_applied_as_planned() {
    let stack = "e2e-exit";
    let plan = ironbark(stack, &["plan", "--env", "dev"]);
    assert_code(&plan, 2, "plan of a fresh stack: changes pending");

    let deploy = ironbark(stack, &["deploy", "--env", "dev", "--yes"]);
    assert_code(&deploy, 0, "deploy");
    let stdout = String::from_utf8_lossy(&deploy.stdout);
    let stderr = String::from_utf8_lossy(&deploy.stderr);
    let planned = stdout
        .lines()
        .find(|l| l.starts_with("Plan: "))
        .and_then(|l| counts(l, ["to create", "to update", "to delete"]));
    let applied = stderr
        .lines()
        .find(|l| l.starts_with("Applied: "))
        .and_then(|l| counts(l, ["created", "updated", "deleted"]));
    assert!(planned.is_some(), "{}", text(&deploy));
    assert_eq!(
        planned,
        applied,
        "what was applied is what was planned: {}",
        text(&deploy)
    );
    assert!(
        !stderr.contains("differs from the plan"),
        "{}",
        text(&deploy)
    );

    for args in [
        &["plan", "--env", "dev"][..],
        &["deploy", "--env", "dev", "--yes"],
        &["outputs", "--env", "dev"],
        &["unlock", "--env", "dev", "--yes"],
        &["validate", "--env", "dev"],
        &["graph", "--env", "dev"],
    ] {
        assert_code(
            &ironbark(stack, args),
            0,
            &format!("{args:?} on a converged stack"),
        );
    }

    let destroy = ironbark(
        stack,
        &["destroy", "--env", "dev", "--yes", "--allow-protected"],
    );
    assert_code(&destroy, 0, "destroy");
    // What AWS keeps on purpose is named, with how to remove it.
    let err = String::from_utf8_lossy(&destroy.stderr);
    for part in [
        "final snapshot",
        "automated backups",
        "aws rds delete-db-snapshot",
        "aws rds delete-db-instance-automated-backup",
        "aws elasticache delete-snapshot",
    ] {
        assert!(err.contains(part), "{part}: {}", text(&destroy));
    }
    assert_code(
        &ironbark(stack, &["destroy", "--env", "dev", "--yes"]),
        0,
        "destroy with nothing left",
    );
}
