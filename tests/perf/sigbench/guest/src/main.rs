//! The benchmark guest as a program: a JSON request on stdin, the JSON response on stdout
//! (see the library). Exit status 2 with the reason on stderr when a case cannot be measured.

use std::io::{Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tollgate-sigbench-guest: {message}");
            ExitCode::from(2)
        }
    }
}

fn serve() -> Result<(), String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("cannot read the request: {e}"))?;
    let output = tollgate_sigbench_guest::answer(&input)?;
    std::io::stdout()
        .write_all(output.as_bytes())
        .map_err(|e| format!("cannot write the response: {e}"))
}
