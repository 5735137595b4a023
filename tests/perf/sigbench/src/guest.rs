//! Where the measuring loop runs: compiled to wasm32-wasip1 under wasmtime, as the native
//! binary (both fed JSON on stdin, as the guest program expects), or in this process (the
//! smoke test's native path, built with the harness).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use wasmtime::{Config, Engine, Linker, Module, OptLevel, Store};
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

use tollgate_sigbench_guest::{Request, Response};

use crate::HarnessError;

/// Largest response a guest may write (the JSON of every case's batches).
const MAX_OUTPUT: usize = 4 << 20;

/// One build of the guest.
pub enum Guest {
    /// The guest module under wasmtime (Cranelift, optimising for speed).
    Wasm {
        label: String,
        engine: Engine,
        module: Module,
    },
    /// The guest compiled for the host, run as a program.
    Native { label: String, program: PathBuf },
    /// The loop linked into this process (as the harness was built).
    InProcess,
}

impl Guest {
    /// Compile the guest module at `path` (wasm32-wasip1).
    pub fn wasm(label: &str, path: &Path) -> Result<Guest, HarnessError> {
        let fail = |reason: String| HarnessError::Guest {
            guest: label.to_owned(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| {
            fail(format!(
                "cannot read {} ({e}); build it with `cargo build -p tollgate-sigbench-guest \
                 --target wasm32-wasip1 --release`",
                path.display()
            ))
        })?;
        let mut config = Config::new();
        config.cranelift_opt_level(OptLevel::Speed);
        let engine = Engine::new(&config).map_err(|e| fail(format!("{e:?}")))?;
        let module = Module::new(&engine, &bytes)
            .map_err(|e| fail(format!("{} does not compile: {e:?}", path.display())))?;
        if module.get_export("_start").is_none() {
            return Err(fail(format!(
                "{} exports no _start: not the guest program",
                path.display()
            )));
        }
        Ok(Guest::Wasm {
            label: label.to_owned(),
            engine,
            module,
        })
    }

    /// The native guest program at `path`.
    pub fn native(label: &str, path: &Path) -> Result<Guest, HarnessError> {
        if !path.is_file() {
            return Err(HarnessError::Guest {
                guest: label.to_owned(),
                reason: format!(
                    "no program at {}; build it with `cargo build -p tollgate-sigbench-guest --release`",
                    path.display()
                ),
            });
        }
        Ok(Guest::Native {
            label: label.to_owned(),
            program: path.to_owned(),
        })
    }

    /// The label used in errors and tables.
    pub fn label(&self) -> &str {
        match self {
            Guest::Wasm { label, .. } | Guest::Native { label, .. } => label,
            Guest::InProcess => "in-process",
        }
    }

    /// The architecture the guest must report (a wasm guest that answers `x86_64` is not the
    /// guest that was meant).
    pub fn expected_arch(&self) -> &'static str {
        match self {
            Guest::Wasm { .. } => "wasm32",
            Guest::Native { .. } | Guest::InProcess => std::env::consts::ARCH,
        }
    }

    /// Run `request` and parse the answer.
    pub fn run(&self, request: &Request) -> Result<Response, HarnessError> {
        let input = serde_json::to_string(request).map_err(|e| HarnessError::Guest {
            guest: self.label().to_owned(),
            reason: format!("cannot encode the request: {e}"),
        })?;
        let output = match self {
            Guest::Wasm { engine, module, .. } => self.run_wasm(engine, module, input)?,
            Guest::Native { program, .. } => self.run_native(program, &input)?,
            Guest::InProcess => tollgate_sigbench_guest::answer(&input).map_err(|message| {
                HarnessError::Refused {
                    guest: self.label().to_owned(),
                    message,
                }
            })?,
        };
        serde_json::from_str(&output).map_err(|e| HarnessError::Guest {
            guest: self.label().to_owned(),
            reason: format!("the answer is not a benchmark response: {e}"),
        })
    }

    fn run_wasm(
        &self,
        engine: &Engine,
        module: &Module,
        input: String,
    ) -> Result<String, HarnessError> {
        let fail = |reason: String| HarnessError::Guest {
            guest: self.label().to_owned(),
            reason,
        };
        let stdout = MemoryOutputPipe::new(MAX_OUTPUT);
        let stderr = MemoryOutputPipe::new(64 << 10);
        let wasi = WasiCtxBuilder::new()
            .stdin(MemoryInputPipe::new(input))
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build_p1();
        let mut store = Store::new(engine, wasi);
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |wasi| wasi)
            .map_err(|e| fail(format!("{e:?}")))?;
        let instance = linker
            .instantiate(&mut store, module)
            .map_err(|e| fail(format!("cannot instantiate: {e:?}")))?;
        let start = instance
            .get_typed_func::<(), ()>(&mut store, "_start")
            .map_err(|e| fail(format!("{e:?}")))?;
        let status = match start.call(&mut store, ()) {
            Ok(()) => 0,
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(I32Exit(code)) => *code,
                None => return Err(fail(format!("trapped: {e:?}"))),
            },
        };
        let text = |pipe: &MemoryOutputPipe| String::from_utf8_lossy(&pipe.contents()).into_owned();
        if status != 0 {
            return Err(HarnessError::Refused {
                guest: self.label().to_owned(),
                message: refusal(&text(&stderr)),
            });
        }
        Ok(text(&stdout))
    }

    fn run_native(&self, program: &Path, input: &str) -> Result<String, HarnessError> {
        let fail = |reason: String| HarnessError::Guest {
            guest: self.label().to_owned(),
            reason,
        };
        let mut child = Command::new(program)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot start {}: {e}", program.display())))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(input.as_bytes())
                .map_err(|e| fail(format!("cannot send the request: {e}")))?;
        }
        let output = child.wait_with_output().map_err(|e| fail(format!("{e}")))?;
        if !output.status.success() {
            return Err(HarnessError::Refused {
                guest: self.label().to_owned(),
                message: refusal(&String::from_utf8_lossy(&output.stderr)),
            });
        }
        String::from_utf8(output.stdout).map_err(|e| fail(format!("the answer is not text: {e}")))
    }
}

/// The guest program's message on stderr without its name.
fn refusal(stderr: &str) -> String {
    let line = stderr.trim();
    line.strip_prefix("tollgate-sigbench-guest: ")
        .unwrap_or(line)
        .to_owned()
}
