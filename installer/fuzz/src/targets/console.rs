//! OPNsense's serial console: `install_config` against a played console
//! whose output is changed. The console is played by a small model of the
//! real one (getty's `login:`, the menu, csh and sh, the terminal's echo,
//! each command's end marker) so unchanged output reaches the end of the
//! install; the case's edits then cut, garble, drop, repeat or replace its
//! replies, the reads are split at odd places, and when the model has
//! nothing more to say the stream closes, resets or stays silent. Some
//! cases are no model at all: arbitrary bytes, or the real prompts and
//! markers in random order.
//!
//! Every case has a budget of stream calls; past it the stream reads as
//! closed, and a driver that still keeps calling is a hang (a panic
//! here). Silent cases use timeouts of milliseconds.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tappaas_opnsense::{
    install_config, ConsoleStream, ConsoleTimeouts, Credentials, DEFAULT_PASSWORD, MENU_PROMPT,
};

use crate::mutate::{mutate_some, token_soup};
use crate::rng::Rng;
use crate::target::{Outcome, Target};

/// Stream calls (reads and writes) one case may make.
const BUDGET: usize = 20_000;
/// Calls past the budget (all answered "closed") before it is a hang.
const HANG_AFTER: usize = 1_000;

const BANNER: &str = "\n*** OPNsense.internal: OPNsense 25.1 ***\n\n LAN (vtnet0) -> v4: 192.168.1.1/24\n\n  0) Logout                              7) Ping host\n  8) Shell                              11) Reload all services\n\n";
const CSH_PROMPT: &str = "root@OPNsense:~ # ";
const SH_PROMPT: &str = "# ";

/// The console's words, for the cases that are no model.
const TOKENS: &[&str] = &[
    "login: ",
    "OPNsense.internal login: ",
    "Password:",
    "Login incorrect\n",
    "Last login: Mon Dec  7 07:00:00 on ttyu0\n",
    "Enter an option: ",
    CSH_PROMPT,
    SH_PROMPT,
    "\n",
    "\r\n",
    "@@",
    "@@TAPPAAS-END-",
    "@@TAPPAAS-END-1:0@@",
    "@@TAPPAAS-END-2:0@@\n",
    "@@TAPPAAS-END-1:",
    ":0@@",
    ":1@@",
    ":-1@@",
    ":99999999999@@",
    ":@@",
    "-END-1:$?@@\"",
    "; echo \"@@TAPPAAS\"\"-END-1:$?@@\"",
    "exec /bin/sh",
    "exit",
    "\u{1b}[H\u{1b}[2J",
    "\0",
];

/// One change to the model's `reply`-th reply (counted from 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum ReplyEdit {
    /// The reply never comes.
    Drop { reply: usize },
    /// Comes twice.
    Repeat { reply: usize },
    /// Replaced by these bytes.
    Replace { reply: usize, bytes: Vec<u8> },
    /// Garbled by the byte mutator (seeded, so a saved case replays).
    Garble { reply: usize, seed: u64 },
    /// The model says nothing from this reply on.
    GoQuiet { reply: usize },
}

impl ReplyEdit {
    fn reply(&self) -> usize {
        match self {
            ReplyEdit::Drop { reply }
            | ReplyEdit::Repeat { reply }
            | ReplyEdit::Replace { reply, .. }
            | ReplyEdit::Garble { reply, .. }
            | ReplyEdit::GoQuiet { reply } => *reply,
        }
    }
}

/// What the stream does once it has nothing to give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum End {
    Closed,
    Reset,
    /// Reads time out: the driver's own deadlines must end the case.
    Silent,
}

/// One case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleScript {
    /// Bytes of the file to install (its length decides the upload's
    /// number of lines).
    pub config_bytes: usize,
    /// Bytes the console printed before the driver connected.
    #[serde(default)]
    pub before: Vec<u8>,
    /// `None`: the model plays the console; `Some`: only these bytes.
    #[serde(default)]
    pub raw: Option<Vec<u8>>,
    #[serde(default)]
    pub edits: Vec<ReplyEdit>,
    /// Sizes of successive reads, in turn (0 counts as 1).
    pub reads: Vec<usize>,
    pub end: End,
}

impl ConsoleScript {
    /// The console as it is, for a file of `config_bytes`: the install
    /// must succeed.
    pub fn unchanged(config_bytes: usize) -> ConsoleScript {
        ConsoleScript {
            config_bytes,
            before: Vec::new(),
            raw: None,
            edits: Vec::new(),
            reads: Vec::new(),
            end: End::Closed,
        }
    }
}

/// Where the played console is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Login,
    Password,
    Menu,
    Csh,
    Sh,
}

/// The played console: a reply for each line typed.
struct Model {
    state: State,
}

impl Model {
    fn reply(&mut self, line: &str) -> Vec<u8> {
        let echo = |s: &str| format!("{line}\n{s}");
        let text = match self.state {
            State::Login if line.is_empty() => "\nOPNsense.internal login: ".to_string(),
            State::Login => {
                self.state = State::Password;
                echo("Password:")
            }
            State::Password if line == DEFAULT_PASSWORD => {
                self.state = State::Menu;
                format!("\nLast login: Mon Dec  7 07:00:00 on ttyu0\n{BANNER}{MENU_PROMPT} ")
            }
            State::Password => {
                self.state = State::Login;
                "\nLogin incorrect\nlogin: ".to_string()
            }
            State::Menu => match line {
                "8" => {
                    self.state = State::Csh;
                    echo(CSH_PROMPT)
                }
                "0" => {
                    self.state = State::Login;
                    echo("\nOPNsense.internal login: ")
                }
                _ => echo(&format!("{BANNER}{MENU_PROMPT} ")),
            },
            State::Csh | State::Sh if line == "exit" => {
                self.state = State::Menu;
                echo(&format!("{BANNER}{MENU_PROMPT} "))
            }
            State::Csh if line == "exec /bin/sh" => {
                self.state = State::Sh;
                echo(SH_PROMPT)
            }
            State::Csh | State::Sh => {
                let prompt = if self.state == State::Sh {
                    SH_PROMPT
                } else {
                    CSH_PROMPT
                };
                // `CMD; echo "@@TAPPAAS""-END-<n>:$?@@"`: print the marker
                // the shell would, with status 0.
                match line.split("\"@@TAPPAAS\"\"-END-").nth(1) {
                    Some(rest) => {
                        let seq = rest.split(':').next().unwrap_or("");
                        echo(&format!("@@TAPPAAS-END-{seq}:0@@\n{prompt}"))
                    }
                    None => echo(prompt),
                }
            }
        };
        text.into_bytes()
    }
}

/// The stream the driver talks to.
struct PlayedConsole {
    script: ConsoleScript,
    model: Option<Model>,
    out: VecDeque<u8>,
    typed: Vec<u8>,
    replies: usize,
    quiet: bool,
    calls: usize,
    reads: usize,
}

impl PlayedConsole {
    fn new(script: ConsoleScript) -> PlayedConsole {
        let mut out: VecDeque<u8> = script.before.iter().copied().collect();
        let model = match &script.raw {
            Some(raw) => {
                out.extend(raw.iter().copied());
                None
            }
            None => Some(Model {
                state: State::Login,
            }),
        };
        PlayedConsole {
            script,
            model,
            out,
            typed: Vec::new(),
            replies: 0,
            quiet: false,
            calls: 0,
            reads: 0,
        }
    }

    /// One more call; past the budget and its grace, a hang.
    fn count_call(&mut self) -> bool {
        self.calls += 1;
        assert!(
            self.calls <= BUDGET + HANG_AFTER,
            "the console driver kept calling a closed stream: {} calls",
            self.calls
        );
        self.calls <= BUDGET
    }

    fn line_typed(&mut self, line: &str) {
        let Some(model) = self.model.as_mut() else {
            return;
        };
        let n = self.replies;
        self.replies += 1;
        let mut reply = model.reply(line);
        let mut times = 1;
        for edit in self.script.edits.iter().filter(|e| e.reply() == n) {
            match edit {
                ReplyEdit::Drop { .. } => times = 0,
                ReplyEdit::Repeat { .. } => times = 2,
                ReplyEdit::Replace { bytes, .. } => reply = bytes.clone(),
                ReplyEdit::Garble { seed, .. } => {
                    let tokens: Vec<&[u8]> = TOKENS.iter().map(|t| t.as_bytes()).collect();
                    mutate_some(&mut Rng::new(*seed), &mut reply, &tokens, 4);
                }
                ReplyEdit::GoQuiet { .. } => self.quiet = true,
            }
        }
        if self.quiet {
            return;
        }
        for _ in 0..times {
            self.out.extend(reply.iter().copied());
        }
    }
}

impl Read for PlayedConsole {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.count_call() {
            return Ok(0);
        }
        if self.out.is_empty() {
            return match self.script.end {
                End::Closed => Ok(0),
                End::Reset => Err(io::ErrorKind::ConnectionReset.into()),
                End::Silent => Err(io::ErrorKind::WouldBlock.into()),
            };
        }
        let size = match self.script.reads.as_slice() {
            [] => buf.len(),
            sizes => sizes[self.reads % sizes.len()].max(1),
        };
        self.reads += 1;
        let n = size.min(buf.len()).min(self.out.len());
        for (slot, byte) in buf.iter_mut().zip(self.out.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

impl Write for PlayedConsole {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.count_call() {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        for &b in buf {
            if b == b'\r' || b == b'\n' {
                let line = String::from_utf8_lossy(&self.typed).into_owned();
                self.typed.clear();
                self.line_typed(&line);
            } else {
                self.typed.push(b);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ConsoleStream for PlayedConsole {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        // A silent console: let the driver's deadline pass without
        // spinning the CPU.
        if self.out.is_empty() && self.script.end == End::Silent {
            if let Some(t) = timeout {
                std::thread::sleep(t.min(Duration::from_millis(2)));
            }
        }
        Ok(())
    }
}

/// The config's contents: as long as asked, ASCII like an XML file.
fn config_of(bytes: usize) -> String {
    let mut text = String::from("<?xml version=\"1.0\"?>\n<opnsense>");
    while text.len() < bytes {
        text.push_str("<x>fuzz</x>\n");
    }
    text.truncate(bytes);
    text
}

pub struct ConsoleTarget;

impl ConsoleTarget {
    pub fn new() -> ConsoleTarget {
        ConsoleTarget
    }
}

impl Default for ConsoleTarget {
    fn default() -> Self {
        Self::new()
    }
}

impl Target for ConsoleTarget {
    fn name(&self) -> &'static str {
        "console"
    }

    fn extension(&self) -> &'static str {
        "json"
    }

    fn generate(&mut self, rng: &mut Rng) -> Vec<u8> {
        let tokens: Vec<&[u8]> = TOKENS.iter().map(|t| t.as_bytes()).collect();
        let config_bytes = *rng.pick(&[0, 40, 200, 1000]);
        let before = if rng.chance(1, 4) {
            token_soup(rng, &tokens, 6)
        } else {
            Vec::new()
        };
        let raw = match rng.below(10) {
            0 => {
                let n = rng.below(400);
                Some(rng.bytes(n))
            }
            1 => Some(token_soup(rng, &tokens, 80)),
            _ => None,
        };
        // A full install is about 12 replies plus one per uploaded line.
        let replies = 12 + config_bytes / 48;
        let edits = (0..rng.below(4))
            .map(|_| {
                let reply = rng.below(replies + 2);
                match rng.below(10) {
                    0 => ReplyEdit::Drop { reply },
                    1 => ReplyEdit::Repeat { reply },
                    2 => ReplyEdit::GoQuiet { reply },
                    3 | 4 => ReplyEdit::Replace {
                        reply,
                        bytes: token_soup(rng, &tokens, 5),
                    },
                    _ => ReplyEdit::Garble {
                        reply,
                        seed: rng.next_u64(),
                    },
                }
            })
            .collect();
        let reads = match rng.below(4) {
            0 => Vec::new(),
            1 => vec![1],
            _ => (0..rng.between(1, 5)).map(|_| rng.between(1, 64)).collect(),
        };
        // Silent cases wait for the driver's deadlines: keep them rare.
        let end = match rng.below(1000) {
            0 => End::Silent,
            1..=100 => End::Reset,
            _ => End::Closed,
        };
        let script = ConsoleScript {
            config_bytes,
            before,
            raw,
            edits,
            reads,
            end,
        };
        serde_json::to_vec(&script).unwrap_or_default()
    }

    fn run(&mut self, input: &[u8]) -> Outcome {
        let Ok(script) = serde_json::from_slice::<ConsoleScript>(input) else {
            return Outcome::Refused;
        };
        // Only a silent console makes the driver wait: short deadlines
        // there; elsewhere long ones, so a loaded machine cannot turn a
        // case into a timeout (and a replay into another path).
        let ms = Duration::from_millis;
        let timeouts = if script.end == End::Silent {
            ConsoleTimeouts {
                boot: ms(20),
                wake: ms(5),
                prompt: ms(10),
                command: ms(10),
                apply: ms(10),
            }
        } else {
            ConsoleTimeouts {
                boot: ms(60_000),
                wake: ms(30_000),
                prompt: ms(30_000),
                command: ms(30_000),
                apply: ms(30_000),
            }
        };
        let config = config_of(script.config_bytes.min(1 << 16));
        let console = PlayedConsole::new(script);
        match install_config(console, &Credentials::default(), &config, timeouts, |_| {}) {
            Ok(()) => Outcome::Accepted,
            Err(e) => {
                // The report is shown to the user: it must render.
                let _ = e.to_string();
                Outcome::Refused
            }
        }
    }
}
